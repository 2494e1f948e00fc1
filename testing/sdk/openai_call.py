"""One chat completion through the official OpenAI Python SDK, with its default retry rules, for the activator tests.

Usage: python3 openai_call.py BASE_URL MODEL [TIMEOUT_SECONDS]
Prints one JSON line: {"attempts": [seconds since start of each HTTP request the SDK sent], "status": int | null,
"code": str | null, "elapsed": seconds to the outcome, "outcome": "ok" | "api_error" | "timeout" | "connection_error", "sdk": version}.
Exit 3 when the openai package is not installed (the caller skips).
"""
import json
import sys
import time

try:
    import openai
except ImportError:
    print(json.dumps({"missing": "openai"}))
    sys.exit(3)

base_url, model = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
start = time.monotonic()
attempts = []


def on_request(_request):
    attempts.append(round(time.monotonic() - start, 3))


client = openai.OpenAI(
    base_url=base_url,
    api_key="unused",
    timeout=timeout,
    max_retries=2,  # the SDK default, stated
    http_client=openai.DefaultHttpxClient(event_hooks={"request": [on_request]}),
)
result = {"attempts": attempts, "status": None, "code": None, "sdk": openai.__version__}
try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    result["outcome"] = "ok"
    result["status"] = 200
except openai.APIStatusError as e:
    result["outcome"] = "api_error"
    result["status"] = e.status_code
    result["code"] = e.code
except openai.APITimeoutError:
    result["outcome"] = "timeout"
except openai.APIConnectionError:
    result["outcome"] = "connection_error"
result["elapsed"] = round(time.monotonic() - start, 3)
print(json.dumps(result))
