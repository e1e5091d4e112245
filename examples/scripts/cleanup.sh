#!/bin/sh
# Delete regular files older than $2 days below the folder $1 (inside the project).
set -eu
folder=$1
days=$2
mkdir -p "$folder"
count=$(find "$folder" -type f -mtime +"$days" | wc -l)
find "$folder" -type f -mtime +"$days" -print -delete
echo "deleted $count files older than $days days from $folder"
