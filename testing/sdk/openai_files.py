"""The Files API through the official OpenAI Python SDK, for the Batch API tests: files.create (twice) ->
files.list (auto-paginated with limit=1, both orders, a purpose filter) -> files.delete -> files.retrieve (404).

Usage: python3 openai_files.py BASE_URL API_KEY INPUT_JSONL_FILE
Prints one JSON line: {"created": [ids], "desc": [ids], "asc": [ids], "batch_output": [ids], "deleted": {...},
"after_delete": [ids], "retrieve_deleted": HTTP status, "sdk": version}.
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
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
created = []
for i in range(2):
    if i:
        time.sleep(1.1)  # created_at is in seconds: two files a second apart have a defined order
    with open(path, "rb") as f:
        created.append(client.files.create(file=f, purpose="batch").id)
desc = [f.id for f in client.files.list(limit=1)]
asc = [f.id for f in client.files.list(limit=1, order="asc")]
outputs = [f.id for f in client.files.list(purpose="batch_output")]
deleted = client.files.delete(created[0])
after_delete = [f.id for f in client.files.list()]
try:
    client.files.retrieve(created[0])
    status = 200
except openai.APIStatusError as e:
    status = e.status_code
print(json.dumps({"created": created, "desc": desc, "asc": asc, "batch_output": outputs, "deleted": deleted.model_dump(), "after_delete": after_delete, "retrieve_deleted": status, "sdk": openai.__version__}))
