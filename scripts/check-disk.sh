#!/usr/bin/env bash
# Before a virtual environment is built: is there room for it? pip's own message
# ("[Errno 28] No space left on device") comes minutes in and names no size.
# Usage: check-disk.sh FOLDER GB  (FOLDER: the venv to be made; GB: what it takes)
set -euo pipefail
folder=$1 need=$2
[ -e "$folder/.installed" ] && exit 0
parent=$(dirname "$(realpath -m "$folder")")
free=$(df -P -BG "$parent" | awk 'NR==2 {sub("G", "", $4); print $4}')
if [ "$free" -lt "$need" ]; then
  echo "xeonsweep: $folder needs about $need GB free, $parent has $free GB: free some space and run make again" >&2
  exit 1
fi
