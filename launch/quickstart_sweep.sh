#!/usr/bin/env bash
# The issue-2 sweep on the embedded model, one job after another (basic launcher), CPU only:
#   bash launch/quickstart_sweep.sh [extra overrides]
# Each agent's problems are synthesized and solved once; the QC cells reuse them from the store.
set -euo pipefail
flames -m agent=paraphrase,distraction_insertion qc=first,majority "$@"
