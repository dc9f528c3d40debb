"""Print N demo orders, one JSON document per line (every 97th has a negative amount; every 11th is a refund)."""

from __future__ import annotations

import json
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
for i in range(count):
    kind = "order.refunded" if i % 11 == 0 else "order.created"
    amount = -1.0 if i % 97 == 0 else round(5 + (i * 7919) % 200 / 3, 2)
    print(json.dumps({"type": kind, "id": f"o-{i:05d}", "amount": amount}))
