#!/usr/bin/env sh
# helm-secrets custom backend for kseal.
#   helm secrets --backend ./contrib/helm-secrets-backend.sh decrypt secrets.yaml
#   HELM_SECRETS_BACKEND=./contrib/helm-secrets-backend.sh helm secrets upgrade ... -f secrets://secrets.yaml
# helm-secrets sources this file and calls the functions below. kseal decrypts any sops v3
# YAML/JSON file encrypted to age (values files written by sops included) and encrypts
# Kubernetes Secret manifests; it refuses to encrypt a values file that holds no Secret.
# HELM_SECRETS_KSEAL_PATH names the kseal binary; SECRET_BACKEND_ARGS adds flags (for
# example `--identity /keys/age.txt`) to every kseal call.

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

_custom_backend_is_file_encrypted() {
    _custom_backend_is_encrypted <"${1}"
}

# A sops file (YAML or JSON) carries a MAC sealed as `ENC[...,type:str]`.
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
        echo "kseal backend: cannot encrypt ${type} files (kseal encrypts Kubernetes Secret manifests in YAML)" >&2
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
    if [ "${input}" = "${output}" ]; then
        _kseal decrypt --in-place "${input}"
    elif [ -z "${output}" ]; then
        _kseal decrypt "${input}"
    else
        _kseal decrypt --output "${output}" "${input}"
    fi
}

# A literal is a whole encrypted document (YAML or JSON); anything else passes through.
_custom_backend_decrypt_literal() {
    if printf '%s' "${1}" | _custom_backend_is_encrypted; then
        printf '%s' "${1}" | _kseal decrypt -
    else
        printf '%s' "${1}"
    fi
}

_custom_backend_edit_file() {
    type="${1}"
    input="${2}"
    _kseal edit "${input}"
}
