#!/usr/bin/env bash
# Re-record the example cassettes against the local loopback server (no real provider, no spend).
# Cassettes recorded this way carry http://127.0.0.1:<port> URIs: that is how you can tell them apart.
# The server answers with loopback_model.reply: its default extractive reply for the assistant, and a TOY
# judge (word overlap) for pytest-llmops' judge prompts. Usage: examples/record.sh [pytest args], e.g.
#   examples/record.sh tests/test_quality.py
set -euo pipefail
cd "$(dirname "$0")"
port=8765
python -m pytest_llmops.loopback --port "$port" --quiet --reply loopback_model:reply &
server=$!
trap 'kill $server' EXIT
sleep 1
OPENAI_BASE_URL="http://127.0.0.1:$port/v1" ANTHROPIC_BASE_URL="http://127.0.0.1:$port" \
OPENAI_API_KEY=sk-loopback ANTHROPIC_API_KEY=sk-ant-loopback \
  python -m pytest --llm-live "$@"
