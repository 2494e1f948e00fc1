/**
 * `npm run bench:build`: builds KEDA's HTTP add-on interceptor (the warm-path bench's real peer) from the Go module
 * proxy into its cache folder, or says where the cached build is. `npm run bench` builds it too when missing;
 * `npm run bench -- --smoke` (and so `npm test`) never builds, and skips the interceptor when it is absent.
 */
import { ensureInterceptor, interceptorBuildInfo, interceptorCacheDir } from "./lib/interceptor";

ensureInterceptor((m) => process.stderr.write(`[bench:build] ${m}\n`)).then(
  (binary) => {
    process.stdout.write(`${binary}\n${JSON.stringify(interceptorBuildInfo() ?? {}, null, 2)}\n`);
  },
  (err: Error) => {
    process.stderr.write(`cannot build the interceptor into ${interceptorCacheDir()}: ${err.message}\n`);
    process.exit(1);
  },
);
