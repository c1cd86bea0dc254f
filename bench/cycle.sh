#!/bin/sh
# cycle.sh RUNTIME ROOT BUNDLE ID: one create + start + delete, as an
# engine drives a short-lived container.
set -e
"$1" --root "$2" create --bundle "$3" "$4" >/dev/null
"$1" --root "$2" start "$4"
"$1" --root "$2" delete --force "$4"
