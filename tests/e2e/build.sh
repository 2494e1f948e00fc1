#!/usr/bin/env bash
# Builds the control plane the end-to-end suite runs (tests/e2e/README.md) from the Go module proxy, pinned, into a
# cache folder OUTSIDE the clone keyed by component and version, so a fresh clone (CI) reuses what an earlier run built:
#   ${GPU_SERVERLESS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpu-serverless/e2e}/<name>-<version>/bin/<binary>
# A folder is complete once its `.done` marker exists; an interrupted build is redone. Nothing is downloaded except
# through the Go module proxy (GOPROXY), and nothing built lands in the repository.
#
#   tests/e2e/build.sh            build what is missing (prints the bin folder of each component)
#   tests/e2e/build.sh --print    print the bin folders only, build nothing (exit 1 if one is missing)
# Beside bin/, share/ holds upstream files of the same module version the suite reads (CRDs not in ../shared, the
# webhook configurations of KServe's chart), copied from the module source.
#
# How each is built:
# - etcd and k8s.io/kubernetes keep their submodules / staging modules beside them through `replace => ./...` lines,
#   which a module zip from the proxy does not carry, so they are built from a generated main module that requires
#   the pinned version and replaces each staging module with its published v0.<minor>.<patch> twin (k8s) or lets the
#   published etcd submodules resolve at the same version.
# - The KEDA operator and the KServe controller manager only use version replaces, and Helm and Karpenter none, so they are built
#   inside a copy of their own module at the pinned tag, with upstream's go.mod/go.sum exactly (what their releases
#   build). Helm's cold build (empty Go caches) costs ~5.5 CPU-minutes (tests/e2e/README.md, Figures).
set -euo pipefail

# Pinned versions. KEDA and KServe match components/domain/versions.ts (charts keda 2.20.2, kserve-* v0.20.0);
# kube-apiserver matches the stack's default EKS version (Pulumi.yaml kubernetesVersion 1.33); etcd is the 3.6 line
# that Kubernetes 1.33 is tested with (kubernetes/kubernetes cluster/images/etcd, build/dependencies.yaml at v1.33.x).
KUBERNETES_VERSION=v1.33.13
ETCD_VERSION=v3.6.16
KEDA_VERSION=v2.20.2
KSERVE_VERSION=v0.20.0
# Helm renders the chart packages of ../shared/upstream/chart-packages (tests/e2e/helm.e2e.ts); v4.3.2 is the Helm those
# packages were made and checked with (../shared/upstream/SOURCES.md, "Chart packages").
HELM_VERSION=v4.3.2
# Karpenter's core with its KWOK cloud provider (tests/e2e/karpenter.e2e.ts): the sigs.k8s.io/karpenter the stack's
# aws/karpenter-provider-aws v1.14.1 builds with (its go.mod requires v1.14.1-0.20260819221709-6e7eab7a0f48, the commit
# of core's tag v1.14.1; the proxy serves the tag, not that pseudo-version).
KARPENTER_VERSION=v1.14.1

CACHE=${GPU_SERVERLESS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpu-serverless/e2e}
PRINT_ONLY=false
[ "${1:-}" = "--print" ] && PRINT_ONLY=true

export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0
LDFLAGS="-s -w"

log() { echo "[e2e-build $(date +%H:%M:%S)] $*" >&2; }

# done_or_build <name> <version> <builder function>: runs the builder in a fresh work folder unless already done.
done_or_build() {
  local name=$1 version=$2 builder=$3 dir="$CACHE/$1-$2"
  if [ -f "$dir/.done" ]; then echo "$name=$dir/bin"; return 0; fi
  if $PRINT_ONLY; then echo "missing: $dir (run tests/e2e/build.sh)" >&2; return 1; fi
  rm -rf "$dir"; mkdir -p "$dir/bin" "$dir/src"
  local start=$SECONDS
  log "building $name $version into $dir"
  (cd "$dir/src" && "$builder" "$version" "$dir/bin")
  rm -rf "$dir/src"
  echo "$((SECONDS - start))" >"$dir/build-seconds"
  touch "$dir/.done"
  log "built $name $version in $((SECONDS - start)) s"
  echo "$name=$dir/bin"
}

build_etcd() {
  local version=$1 bin=$2
  cat >go.mod <<EOF
module gpu-serverless.e2e/etcd
go 1.24
require go.etcd.io/etcd/server/v3 $version
EOF
  # server/v3 is the etcd binary's main package (go.etcd.io/etcd server/main.go); its sibling modules resolve at the
  # same version from the proxy.
  GOFLAGS="$GOFLAGS -mod=mod" go get go.etcd.io/etcd/server/v3@"$version"
  GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "$LDFLAGS" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

build_kubernetes() {
  local version=$1 bin=$2 staging="v0.${1#v1.}"
  go mod download -json "k8s.io/kubernetes@$version" >kubernetes.json
  local gomod
  gomod=$(sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p' kubernetes.json)
  {
    echo "module gpu-serverless.e2e/kubernetes"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $version"
    # Every `k8s.io/<m> => ./staging/src/k8s.io/<m>` line of kubernetes' go.mod becomes `=> k8s.io/<m> v0.X.Y`.
    sed -n 's#^\s*\(k8s\.io/[^ ]*\) => \./staging/src/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
  } >go.mod
  GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "$LDFLAGS" -o "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
}

# copy_module <module> <version>: the module's source at that version, writable, in the current folder.
copy_module() {
  local dir
  dir=$(go mod download -json "$1@$2" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  cp -r "$dir"/. . && chmod -R u+w .
}

build_keda() {
  copy_module github.com/kedacore/keda/v2 "$1"
  # keda Makefile `build`: go build ... -o bin/keda cmd/operator/main.go (version via ldflags).
  go build -trimpath -ldflags "$LDFLAGS -X github.com/kedacore/keda/v2/version.Version=${1#v}" -o "$2/keda" ./cmd/operator
}

build_keda_adapter() {
  copy_module github.com/kedacore/keda/v2 "$1"
  # keda Makefile `build`: go build ... -o bin/keda-adapter cmd/adapter/main.go (KEDA's metrics API server, served
  # behind the API server's aggregation layer as v1beta1.external.metrics.k8s.io). Its own folder, so adding it did
  # not rebuild the operator; the Go build cache the operator left makes it mostly a link step.
  go build -trimpath -ldflags "$LDFLAGS -X github.com/kedacore/keda/v2/version.Version=${1#v}" -o "$2/keda-adapter" ./cmd/adapter
}

build_kserve() {
  copy_module github.com/kserve/kserve "$1"
  # kserve Dockerfile: go build -o manager ./cmd/manager
  go build -trimpath -ldflags "$LDFLAGS" -o "$2/manager" ./cmd/manager
}

build_helm() {
  copy_module helm.sh/helm/v4 "$1"
  # helm Makefile `build`: go build -trimpath -ldflags '-w -s -X helm.sh/helm/v4/internal/version.version=...' ./cmd/helm
  go build -trimpath -ldflags "$LDFLAGS -X helm.sh/helm/v4/internal/version.version=$1" -o "$2/helm" ./cmd/helm
}

build_karpenter_kwok() {
  copy_module sigs.k8s.io/karpenter "$1"
  # karpenter Makefile `build`/`apply`: ko build sigs.k8s.io/karpenter/kwok (the KWOK provider's main package).
  go build -trimpath -ldflags "$LDFLAGS -X sigs.k8s.io/karpenter/pkg/operator.Version=$1" -o "$2/karpenter-kwok" ./kwok
}

# share_files <name> <version> <module> <file in module>...: copies the files into <name>-<version>/share/ (flat).
share_files() {
  local dir="$CACHE/$1-$2/share" module=$3 version=$2 src
  shift 3
  [ -f "$dir/.done" ] && return 0
  $PRINT_ONLY && { echo "missing: $dir (run tests/e2e/build.sh)" >&2; return 1; }
  src=$(go mod download -json "$module@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$dir"
  for f in "$@"; do cp "$src/$f" "$dir/"; done
  touch "$dir/.done"
}

done_or_build etcd "$ETCD_VERSION" build_etcd
done_or_build kubernetes "$KUBERNETES_VERSION" build_kubernetes
done_or_build kserve "$KSERVE_VERSION" build_kserve
done_or_build keda "$KEDA_VERSION" build_keda
done_or_build keda-adapter "$KEDA_VERSION" build_keda_adapter
done_or_build helm "$HELM_VERSION" build_helm
done_or_build karpenter-kwok "$KARPENTER_VERSION" build_karpenter_kwok
# KServe: the manager also runs the TrainedModel and InferenceGraph controllers (cmd/manager/main.go), whose CRDs
# ../shared does not carry; its chart's webhook configurations are wired to the local manager by the suite.
share_files kserve "$KSERVE_VERSION" github.com/kserve/kserve \
  config/crd/full/serving.kserve.io_trainedmodels.yaml config/crd/full/serving.kserve.io_inferencegraphs.yaml \
  charts/kserve-resources/files/kserve/resources.yaml
# KEDA: the operator also runs the CloudEventSource controllers (cmd/operator/main.go).
share_files keda "$KEDA_VERSION" github.com/kedacore/keda/v2 \
  config/crd/bases/eventing.keda.sh_cloudeventsources.yaml config/crd/bases/eventing.keda.sh_clustercloudeventsources.yaml
# Karpenter's KWOK node class (the karpenter.sh CRDs at v1.14.1 are in ../shared).
share_files karpenter-kwok "$KARPENTER_VERSION" sigs.k8s.io/karpenter kwok/apis/crds/karpenter.kwok.sh_kwoknodeclasses.yaml
