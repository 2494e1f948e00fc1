"""A batch through the official OpenAI Python SDK, for the Batch API tests: files.create -> batches.create ->
batches.retrieve until final -> files.content of the output file.

Usage: python3 openai_batch.py BASE_URL API_KEY INPUT_JSONL_FILE [TIMEOUT_SECONDS]
Prints one JSON line: {"status": final status, "request_counts": {...}, "output": [output lines as objects], "sdk": version}.
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

base_url, api_key, path = sys.argv[1], sys.argv[2], sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
with open(path, "rb") as f:
    uploaded = client.files.create(file=f, purpose="batch")
batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
deadline = time.monotonic() + timeout
while batch.status not in ("completed", "failed", "expired", "cancelled"):
    if time.monotonic() > deadline:
        break
    time.sleep(0.2)
    batch = client.batches.retrieve(batch.id)
output = []
if batch.output_file_id:
    output = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines() if line]
print(json.dumps({"status": batch.status, "request_counts": batch.request_counts.model_dump() if batch.request_counts else None, "output": output, "sdk": openai.__version__}))
