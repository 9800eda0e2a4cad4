#!/usr/bin/env sh
# Installs kseal as kustomize's legacy exec plugins KsealGenerator and KsealTransformer
# (symlinks to the kseal binary under $XDG_CONFIG_HOME/kustomize/plugin), so that
# `kustomize build --enable-alpha-plugins` (or `kubectl kustomize --enable-alpha-plugins`)
# runs them. Usage: install-plugins.sh [PATH-TO-KSEAL]
set -eu
kseal=${1:-$(command -v kseal)}
[ -x "$kseal" ] || { echo "install-plugins.sh: kseal not found (give its path)" >&2; exit 1; }
case "$kseal" in /*) ;; *) kseal="$(cd "$(dirname "$kseal")" && pwd)/$(basename "$kseal")" ;; esac
root="${XDG_CONFIG_HOME:-$HOME/.config}/kustomize/plugin/kseal.dev/v1alpha1"
for kind in KsealGenerator KsealTransformer; do
  lower=$(printf '%s' "$kind" | tr '[:upper:]' '[:lower:]')
  mkdir -p "$root/$lower"
  ln -sf "$kseal" "$root/$lower/$kind"
  echo "installed $root/$lower/$kind -> $kseal"
done
