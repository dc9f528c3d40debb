#!/usr/bin/env bash
# The main job on the embedded default: create a queue with a dead-letter queue, fill it with
# orders, run the demo function through it until the queue is drained, and show the summary.
# BATCHMAP (the command) and DEMO_DIR (its scratch folder) may be set to run it elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
BM="${BATCHMAP:-.venv/bin/batchmap}"
PY="${PYTHON:-.venv/bin/python}"
DIR="${DEMO_DIR:-.demo}"
DB="$DIR/demo.db"
QUEUE="sqlite:///$DB?queue=orders"
DLQ="sqlite:///$DB?queue=orders-dlq"
rm -rf "$DIR" && mkdir -p "$DIR"

echo "== create the queues (as aws sqs create-queue)"
$BM create-queue --source "$DLQ" > /dev/null
$BM create-queue --source "$QUEUE" --attributes '{"VisibilityTimeout": "2",
  "RedrivePolicy": "{\"deadLetterTargetArn\": \"arn:aws:sqs:local:000000000000:orders-dlq\", \"maxReceiveCount\": \"2\"}"}' > /dev/null

echo "== send 2,000 orders (every 97th has a negative amount and always fails)"
$PY examples/demo/make_orders.py 2000 | $BM send --source "$QUEUE" > /dev/null

echo "== run the function until the queue is drained"
echo "   (on a terminal: a live progress line; the log, one JSON line per batch with failures: $DIR/run.log)"
PYTHONPATH=examples/demo $BM run --source "$QUEUE" --function orders:handler \
  --batch-size 100 --maximum-batching-window-in-seconds 1 \
  --function-response-types ReportBatchItemFailures --timeout 2 --until-idle --log-file "$DIR/run.log"

echo "== $(grep -c '"records failed"' "$DIR/run.log") log lines for batches with failed records; the first one:"
grep -m1 '"records failed"' "$DIR/run.log" | $PY examples/demo/show.py log-line

echo "== what is left: the orders that always fail are in the dead-letter queue"
$BM inspect --source "$QUEUE" | $PY examples/demo/show.py depth

echo "== look at one dead letter (as aws sqs receive-message; --visibility-timeout 0 leaves it visible)"
$BM receive-message --source "$DLQ" --attribute-names ApproximateReceiveCount --visibility-timeout 0 \
  | grep -E '"(MessageId|Body|ApproximateReceiveCount)"' | cut -c1-160

echo "== move them back to the queue they failed in (as aws sqs start-message-move-task), then list the task"
$BM start-message-move-task --source-arn "$DLQ" > /dev/null
$BM list-message-move-tasks --source-arn "$DLQ" | grep -E '"(Status|ApproximateNumberOf[A-Za-z]*)"'
$BM inspect --source "$QUEUE" | $PY examples/demo/show.py depth
