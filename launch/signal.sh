#!/usr/bin/env bash
# bash launch/signal.sh [overrides]   (the CPU rehearsal whose numbers mean something, on this machine: docs/signal.md)
set -euo pipefail
flames study=signal study.executor=local "$@"
