#!/usr/bin/env sh
# helm-secrets custom backend for kseal. helm-secrets sources this file (under `set -euf`) and
# calls the functions below. The forms that work with helm-secrets 4.7 (see
# docs/integrations/helm.md):
#   HELM_SECRETS_BACKEND=/path/helm-secrets-backend.sh helm upgrade web ./chart -f secrets://secrets.yaml
#   helm upgrade web ./chart -f 'secrets:///path/helm-secrets-backend.sh!secrets.yaml'
#   helm secrets upgrade web ./chart -f '/path/helm-secrets-backend.sh!secrets.yaml'
#   helm secrets -b /path/helm-secrets-backend.sh decrypt|encrypt|edit secrets.yaml
# kseal decrypts sops v3 YAML and JSON files encrypted to age (values files written by sops
# included); it refuses sops dotenv, INI and binary files, which it cannot decrypt, rather
# than hand their ciphertext to helm as values. It encrypts Kubernetes Secret manifests only.
# HELM_SECRETS_KSEAL_PATH names the kseal binary; SECRET_BACKEND_ARGS (helm-secrets sets it
# from HELM_SECRETS_BACKEND_ARGS or --backend-args) adds flags, for example
# `--identity /keys/age.txt`, to every decrypt and edit call.

_KSEAL="${HELM_SECRETS_KSEAL_PATH:-kseal}"

# Runs kseal with the subcommand first, then the backend args, then the rest.
_kseal() {
    _kseal_cmd="${1}"
    shift
    if [ -n "${SECRET_BACKEND_ARGS:-}" ]; then
        # shellcheck disable=SC2086
        eval "set -- ${SECRET_BACKEND_ARGS} \"\$@\""
    fi
    "${_KSEAL}" "${_kseal_cmd}" "$@"
}

# Flags that only decrypting commands take (encrypt has no --identity).
_kseal_plain() {
    "${_KSEAL}" "$@"
}

_kseal_fail() {
    echo "kseal backend: $*" >&2
    return 1
}

# The sops format of an encrypted text: yaml, json, binary, dotenv, ini or unknown. A sops
# binary file is JSON whose top level holds only `data` (the encrypted content) and `sops`;
# a JSON values file with `data` as its only key looks the same and is refused with it.
_kseal_format() {
    if printf '%s\n' "${1}" | grep -q '^sops_mac='; then
        echo dotenv
    elif printf '%s\n' "${1}" | grep -q '^\[sops\][[:space:]]*$'; then
        echo ini
    elif printf '%s\n' "${1}" | grep -q '^sops:'; then
        echo yaml
    elif printf '%s\n' "${1}" | grep -q '^[[:space:]]*"sops":'; then
        if printf '%s\n' "${1}" | awk '
            /^[[:space:]]*"data":[[:space:]]*"ENC\[/ && ind == "" { match($0, /^[[:space:]]*/); ind = substr($0, 1, RLENGTH); found = 1 }
            { line[NR] = $0 }
            END {
                if (!found) exit 1
                n = 0
                for (i = 1; i <= NR; i++)
                    if (substr(line[i], 1, length(ind) + 1) == ind "\"") n++
                exit n == 2 ? 0 : 1
            }'; then
            echo binary
        else
            echo json
        fi
    else
        echo unknown
    fi
}

# Refuses what kseal cannot decrypt, naming the file and the format.
_kseal_check_format() {
    case "$(_kseal_format "${2}")" in
    dotenv | ini | binary)
        _kseal_fail "${1} is a sops $(_kseal_format "${2}") file: kseal decrypts sops YAML and JSON files only; decrypt it with the sops backend (helm secrets -b sops)"
        ;;
    esac
}

# Ciphertext must never reach helm as plaintext.
_kseal_check_plain() {
    if printf '%s\n' "${2}" | grep -q 'ENC\[AES256_GCM,'; then
        _kseal_fail "${1}: the output still holds encrypted values; refusing to pass it on"
        return 1
    fi
}

_custom_backend_is_file_encrypted() {
    _custom_backend_is_encrypted <"${1}"
}

# A sops file (YAML, JSON, dotenv, INI) carries a MAC sealed as `ENC[...,type:str]`.
_custom_backend_is_encrypted() {
    grep -q 'mac.*ENC\[AES256_GCM,.*,type:str]' -
}

_custom_backend_encrypt_file() {
    type="${1}"
    input="${2}"
    output="${3:-}"
    case "${type}" in
    yaml | auto) ;;
    *)
        _kseal_fail "cannot encrypt ${type} files (kseal encrypts Kubernetes Secret manifests in YAML)"
        return 1
        ;;
    esac
    if [ "${input}" = "${output}" ]; then
        _kseal_plain encrypt --in-place "${input}"
    elif [ -z "${output}" ]; then
        _kseal_plain encrypt "${input}"
    else
        _kseal_plain encrypt --output "${output}" "${input}"
    fi
}

_custom_backend_decrypt_file() {
    type="${1}"
    input="${2}"
    # An empty output means stdout.
    output="${3:-}"
    _kseal_check_format "${input}" "$(cat "${input}")" || return 1
    if [ "${input}" = "${output}" ]; then
        _kseal decrypt --in-place "${input}" || return 1
        _kseal_check_plain "${input}" "$(cat "${input}")"
    elif [ -z "${output}" ]; then
        # The trailing `.` keeps the output's final newlines through the substitution.
        _kseal_out=$(
            _kseal decrypt "${input}" || exit 1
            printf '.'
        ) || return 1
        _kseal_check_plain "${input}" "${_kseal_out}" || return 1
        printf '%s' "${_kseal_out%.}"
    else
        _kseal decrypt --output "${output}" "${input}" || return 1
        if ! _kseal_check_plain "${input}" "$(cat "${output}")"; then
            rm -f "${output}"
            return 1
        fi
    fi
}

# A literal is a whole encrypted document (YAML or JSON); anything else passes through.
_custom_backend_decrypt_literal() {
    if printf '%s' "${1}" | _custom_backend_is_encrypted; then
        _kseal_check_format "the literal" "${1}" || return 1
        _kseal_out=$(
            printf '%s' "${1}" | _kseal decrypt - || exit 1
            printf '.'
        ) || return 1
        _kseal_check_plain "the literal" "${_kseal_out}" || return 1
        printf '%s' "${_kseal_out%.}"
    else
        printf '%s' "${1}"
    fi
}

_custom_backend_edit_file() {
    type="${1}"
    input="${2}"
    if [ -f "${input}" ]; then
        _kseal_check_format "${input}" "$(cat "${input}")" || return 1
    fi
    _kseal edit "${input}"
}
