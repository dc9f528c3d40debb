#!/usr/bin/env bash
# The main job on the embedded default: create a queue with a dead-letter queue, fill it with
# orders, run the demo function through it until the queue is drained, and show the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BM=".venv/bin/batchmap"
DB=".demo/demo.db"
QUEUE="sqlite:///$DB?queue=orders"
DLQ="sqlite:///$DB?queue=orders-dlq"
rm -rf .demo && mkdir -p .demo

echo "== create the queues (as aws sqs create-queue)"
$BM create-queue --source "$DLQ" > /dev/null
$BM create-queue --source "$QUEUE" --attributes '{"VisibilityTimeout": "2",
  "RedrivePolicy": "{\"deadLetterTargetArn\": \"arn:aws:sqs:local:000000000000:orders-dlq\", \"maxReceiveCount\": \"2\"}"}' > /dev/null

echo "== send 2,000 orders"
.venv/bin/python examples/demo/make_orders.py 2000 | $BM send --source "$QUEUE" > /dev/null

echo "== run the function until the queue is drained (JSON logs, one line per failed record: .demo/run.log)"
PYTHONPATH=examples/demo $BM run --source "$QUEUE" --function orders:handler \
  --batch-size 100 --maximum-batching-window-in-seconds 1 \
  --function-response-types ReportBatchItemFailures --timeout 2 --until-idle --json-logs 2> .demo/run.log
echo "   $(grep -c '"record failed"' .demo/run.log) failed-record lines logged, e.g.:"
grep -m1 '"record failed"' .demo/run.log | cut -c1-220

echo "== what is left: the orders that always fail are in the dead-letter queue"
$BM inspect --source "$DLQ" | grep -E '"(visible|in_flight|dead_lettered)"'

echo "== look at one dead letter (as aws sqs receive-message; --visibility-timeout 0 leaves it visible)"
$BM receive-message --source "$DLQ" --attribute-names ApproximateReceiveCount --visibility-timeout 0 \
  | grep -E '"(MessageId|Body|ApproximateReceiveCount)"' | cut -c1-160

echo "== move them back to the queue they failed in (as aws sqs start-message-move-task), then list the task"
$BM start-message-move-task --source-arn "$DLQ" > /dev/null
$BM list-message-move-tasks --source-arn "$DLQ" | grep -E '"(Status|ApproximateNumberOf[A-Za-z]*)"'
$BM inspect --source "$QUEUE" | grep -E '"(visible|dead_lettered)"'
