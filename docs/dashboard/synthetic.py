#!/usr/bin/env python3
"""Synthetic metrics for rendering the dashboard: six hours of a dev stack, written as OpenMetrics for
`promtool tsdb create-blocks-from openmetrics`. The series have the names and labels the exporters write (see
components/manifests/operations/dashboard.ts); the values follow a scripted day, not a measurement:

  qwen (vLLM, one A100): idle at zero; a burst at 0:30 waits for a GPU node (4.5 min cold start, held queue rises),
    serves until 2:30 with a second replica during the 1:00-1:45 peak, scales to zero; at 3:30 a cold start whose node
    is slow (the first held requests time out after 5 minutes), then served until 5:00.
  iris (sklearn, CPU): light traffic all day, scales to zero between 2:00 and 2:40 (20 s cold start at 2:40).
  activator: two pods; pod activator-1 restarts once at 4:10.

Usage: synthetic.py END_EPOCH_SECONDS > data.om
"""
import math
import sys

STEP = 30
HOURS = 6
end = int(sys.argv[1]) // STEP * STEP
start = end - HOURS * 3600
times = list(range(start, end + 1, STEP))
PODS = ["activator-0", "activator-1"]
QWEN, IRIS = "models/qwen", "models/iris"
GPU_NODE = "ip-10-0-97-12.us-west-2.compute.internal"
SYSTEM_NODES = ["ip-10-0-33-4.us-west-2.compute.internal", "ip-10-0-65-9.us-west-2.compute.internal"]
LATENCY_LE = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
COLD_LE = [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1200, 1800]
TTFT_LE = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]
PUSH_LE = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]


def minute(t):
    return (t - start) / 60


def qwen_rate(m):
    """Requests per second arriving for qwen at minute m."""
    if 30 <= m < 150:
        base = 2.5 + 1.5 * math.sin((m - 30) / 120 * math.pi)
        return base + (4.0 if 60 <= m < 105 else 0)
    if 210 <= m < 300:
        return 2.0 + math.sin((m - 210) / 15)
    return 0.0


def iris_rate(m):
    return 0.0 if 120 <= m < 160 else 0.6 + 0.3 * math.sin(m / 23)


# Cold starts: (model, begin minute, ready minute, outcome of the observation at the end)
cold = {QWEN: [(30, 34.5, "served"), (210, 215, "timeout"), (215, 222, "served")], IRIS: [(160, 160.33, "served")]}


def replicas(model, m):
    """(desired, ready) predictor replicas."""
    if model == QWEN:
        if 30 <= m < 155:
            desired = 2 if 62 <= m < 110 else 1
            ready = 0 if m < 34.5 else (2 if 65.5 <= m < 110 else 1)
            return desired, ready
        if 210 <= m < 305:
            return 1, (0 if m < 222 else 1)
        return 0, 0
    if 125 <= m < 160:
        return 0, 0
    return 1, (0 if 160 <= m < 160.33 else 1)


def cold_now(model, m):
    return any(b <= m < r for b, r, _ in cold[model])


families = {}


def add(name, typ, labels, value_at):
    """Adds a series; value_at(t) returns a number or None (no sample)."""
    families.setdefault(name, (typ, []))[1].append((labels, value_at))


def lbl(d):
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


class Counter:
    """A cumulative counter sampled at every step, fed by a rate function."""

    def __init__(self, rate):
        self.values = {}
        total = 0.0
        for t in times:
            total += max(0.0, rate(t)) * STEP
            self.values[t] = total

    def __call__(self, t):
        return round(self.values[t], 3)


def restart_gap(pod, t):
    """activator-1 restarts at 4:10: its counters start again from zero."""
    return pod == "activator-1" and minute(t) >= 250


def per_pod(rate):
    def make(pod):
        share = 0.55 if pod == "activator-0" else 0.45
        before = Counter(lambda t: 0 if restart_gap(pod, t) else share * rate(t))
        after = Counter(lambda t: share * rate(t) if restart_gap(pod, t) else 0)
        return lambda t: after(t) if restart_gap(pod, t) else before(t)

    return make


# Activator: requests, held, in flight, latency, cold starts.
for model, rate_fn, err_share, lat_mu in [(QWEN, qwen_rate, 0.004, 1.4), (IRIS, iris_rate, 0.001, 0.012)]:
    # Deterministic wobble: every bucket of a histogram sees the same rate at the same instant.
    r = lambda t, f=rate_fn: f(minute(t)) * (1 + 0.08 * math.sin(t * 0.37) * math.cos(t * 0.011))
    timeouts = lambda t, mdl=model: (0.4 if mdl == QWEN and 215 <= minute(t) < 216 else 0)
    for pod in PODS:
        mk = per_pod(r)
        share = 0.55 if pod == "activator-0" else 0.45
        add("activator_requests_total", "counter", {"model": model, "status": "200", "pod": pod}, per_pod(lambda t, r=r, e=err_share: r(t) * (1 - e))(pod))
        add("activator_requests_total", "counter", {"model": model, "status": "503", "pod": pod}, per_pod(lambda t, r=r, e=err_share: r(t) * e)(pod))
        add("activator_requests_total", "counter", {"model": model, "status": "504", "pod": pod}, per_pod(timeouts)(pod))
        add("activator_rejections_total", "counter", {"model": model, "reason": "cold_start_timeout", "pod": pod}, per_pod(timeouts)(pod))
        add("activator_rejections_total", "counter", {"model": model, "reason": "model_queue_full", "pod": pod}, per_pod(lambda t, r=r, e=err_share: r(t) * e)(pod))
        held_rate = lambda t, mdl=model, r=r: r(t) if cold_now(mdl, minute(t)) else 0
        add("activator_requests_held_total", "counter", {"model": model, "reason": "no_ready_replica", "pod": pod}, per_pod(held_rate)(pod))
        add("activator_requests_served_warm_total", "counter", {"model": model, "pod": pod}, per_pod(lambda t, r=r, h=held_rate: r(t) - h(t))(pod))

        def held(t, mdl=model, s=share):
            m = minute(t)
            for b, ready, _ in cold[mdl]:
                if b <= m < ready:
                    waited = (m - b) * 60
                    arrived = waited * (qwen_rate(m) if mdl == QWEN else iris_rate(m))
                    if mdl == QWEN and b == 210:  # held requests time out after 5 minutes
                        arrived = min(waited, 300) * qwen_rate(m)
                    return round(s * min(arrived, 34 if mdl == QWEN else 6))
            return 0

        add("activator_held_requests", "gauge", {"model": model, "pod": pod}, held)
        add("activator_in_flight_requests", "gauge", {"model": model, "pod": pod}, lambda t, r=r, s=share, mu=lat_mu: round(s * r(t) * mu))
        for le in LATENCY_LE + ["+Inf"]:
            def below(t, le=le, mu=lat_mu, r=r):
                if le == "+Inf":
                    return r(t)
                # log-normal around mu seconds; slower while the second replica warms up
                m = minute(t)
                slow = 2.2 if (58 <= m < 66) else 1.0
                z = (math.log(le) - math.log(mu * slow)) / 0.5
                return r(t) * 0.5 * (1 + math.erf(z / math.sqrt(2)))

            add("activator_proxy_latency_seconds_bucket", "histogram", {"model": model, "le": str(le), "pod": pod}, per_pod(below)(pod))

        # Cold starts: counted by outcome on the pod that held them (activator-0); served ones' durations observed.
        for outcome, cause in [("served", ""), ("timeout", ""), ("client_gone", ""), ("failed", "model_removed")]:
            obs = [(ready, (ready - b) * 60) for b, ready, o in cold[model] if o == outcome] if pod == "activator-0" else []
            count = lambda t, obs=obs: sum(1 for at, _ in obs if minute(t) >= at)
            add("activator_cold_starts_total", "counter", {"model": model, "outcome": outcome, "cause": cause, "pod": pod}, count)
            if outcome != "served":
                continue
            labels = {"model": model, "pod": pod}
            for le in COLD_LE + ["+Inf"]:
                add("activator_cold_start_duration_seconds_bucket", "histogram", {**labels, "le": str(le)},
                    lambda t, obs=obs, le=le: sum(1 for at, d in obs if minute(t) >= at and (le == "+Inf" or d <= le)))
            add("activator_cold_start_duration_seconds_count", "histogram", labels, count)
            add("activator_cold_start_duration_seconds_sum", "histogram", labels, lambda t, obs=obs: sum(d for at, d in obs if minute(t) >= at))

for pod in PODS:
    pushes = lambda t: sum(0.02 for mdl in (QWEN, IRIS) if cold_now(mdl, minute(t)))
    for le in PUSH_LE + ["+Inf"]:
        add("activator_activation_push_seconds_bucket", "histogram", {"le": str(le), "pod": pod},
            per_pod(lambda t, le=le: pushes(t) * (1 if le == "+Inf" or le >= 0.0005 else 0.3))(pod))

# kube-state-metrics: predictor Deployments, node labels, activator limits and restarts.
for model in (QWEN, IRIS):
    ns, name = model.split("/")
    dep = {"namespace": ns, "deployment": f"{name}-predictor"}
    add("kube_deployment_spec_replicas", "gauge", dep, lambda t, mdl=model: replicas(mdl, minute(t))[0])
    add("kube_deployment_status_replicas", "gauge", dep, lambda t, mdl=model: replicas(mdl, minute(t))[0])
    add("kube_deployment_status_replicas_ready", "gauge", dep, lambda t, mdl=model: replicas(mdl, minute(t))[1])


def gpu_node_up(m):
    return 32 <= m < 160 or 212 <= m < 310


def second_gpu(m):
    return 62 <= m < 110


for node in SYSTEM_NODES:
    add("kube_node_labels", "gauge", {"node": node, "label_gpu_serverless_io_node_group": "system"}, lambda t: 1)
add("kube_node_labels", "gauge", {"node": GPU_NODE, "label_gpu_serverless_io_node_group": "a100"}, lambda t: 1 if gpu_node_up(minute(t)) else None)
for pod in PODS:
    c = {"namespace": "activator", "pod": pod, "container": "activator"}
    add("kube_pod_container_resource_limits", "gauge", {**c, "resource": "memory", "unit": "byte"}, lambda t: 512 * 2**20)
    add("kube_pod_container_status_restarts_total", "counter", c, lambda t, pod=pod: 1 if restart_gap(pod, t) else 0)
    add("container_memory_working_set_bytes", "gauge", c,
        lambda t, pod=pod: int((62 + 0.5 * sum(v for v in [qwen_rate(minute(t)), iris_rate(minute(t))]) + (8 if restart_gap(pod, t) else 14) * (1 - math.exp(-minute(t) / 40))) * 2**20))
    add("container_cpu_usage_seconds_total", "counter", c, per_pod(lambda t: 0.02 + 0.012 * (qwen_rate(minute(t)) + iris_rate(minute(t))))(pod))

# DCGM exporter on the A100 node: eight GPUs, the model on GPU 0 (and GPU 1 for the second replica).
for gpu in range(8):
    g = {"gpu": str(gpu), "UUID": f"GPU-5a1c0e{gpu:02d}", "modelName": "NVIDIA A100-SXM4-40GB", "Hostname": GPU_NODE, "device": f"nvidia{gpu}"}
    total = 40960

    def busy(m, gpu=gpu):
        return (gpu == 0 and m >= 34.5) or (gpu == 1 and second_gpu(m) and m >= 65.5)

    def util(t, gpu=gpu, busy=busy):
        m = minute(t)
        if not gpu_node_up(m):
            return None
        if not busy(m):
            return 0
        return round(min(100, 14 * qwen_rate(m) / (2 if 62 <= m < 110 else 1) + 3 * math.sin(t * 0.05)), 1)

    def used(t, gpu=gpu, busy=busy):
        m = minute(t)
        if not gpu_node_up(m):
            return None
        return int(0.905 * total) if busy(m) and replicas(QWEN, m)[0] > 0 else 3

    add("DCGM_FI_DEV_GPU_UTIL", "gauge", g, util)
    add("DCGM_FI_DEV_FB_USED", "gauge", g, used)
    add("DCGM_FI_DEV_FB_FREE", "gauge", g, lambda t, used=used: None if used(t) is None else total - 530 - used(t))
    add("DCGM_FI_DEV_FB_RESERVED", "gauge", g, lambda t, used=used: None if used(t) is None else 530)

# vLLM, scraped through the qwen predictor's ServiceMonitor.
vllm_up = lambda m: replicas(QWEN, m)[1] > 0
for replica in range(2):
    v = {"namespace": "models", "service": "qwen-predictor", "pod": f"qwen-predictor-7d9f-{replica}", "model_name": "qwen", "engine": "0"}
    share = lambda m, replica=replica: (0.5 if replicas(QWEN, m)[1] == 2 else (1.0 if replica == 0 else 0.0)) if vllm_up(m) else 0
    live = lambda t, replica=replica: vllm_up(minute(t)) and (replica == 0 or replicas(QWEN, minute(t))[1] == 2)
    rate = lambda t, share=share: qwen_rate(minute(t)) * share(minute(t))
    gen, prompt = Counter(lambda t, rate=rate: rate(t) * 180), Counter(lambda t, rate=rate: rate(t) * 420)
    add("vllm:generation_tokens_total", "counter", v, lambda t, live=live, gen=gen: gen(t) if live(t) else None)
    add("vllm:prompt_tokens_total", "counter", v, lambda t, live=live, prompt=prompt: prompt(t) if live(t) else None)
    for le in TTFT_LE + ["+Inf"]:
        def below(t, le=le, rate=rate):
            m = minute(t)
            mu = 0.045 * (1 + 0.15 * qwen_rate(m))
            if le == "+Inf":
                return rate(t)
            return rate(t) * 0.5 * (1 + math.erf((math.log(le) - math.log(mu)) / 0.45 / math.sqrt(2)))

        c = Counter(below)
        add("vllm:time_to_first_token_seconds_bucket", "histogram", {**v, "le": str(le)}, lambda t, live=live, c=c: c(t) if live(t) else None)

out = sys.stdout
for name, (typ, series) in families.items():
    # One family per metric name, typed `unknown`: samples keep their exposed names (_total, _bucket) as is.
    out.write(f"# TYPE {name} unknown\n")
    for labels, value_at in series:
        text = lbl(labels)
        for t in times:
            v = value_at(t)
            if v is not None:
                out.write(f"{name}{text} {v} {t}\n")
out.write("# EOF\n")
