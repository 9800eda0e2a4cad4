#!/usr/bin/env sh
# A stand-in for helm-secrets 4.7 (jkroepke/helm-secrets, scripts/run.sh and
# scripts/commands/*.sh) and for the helm that runs it, for testing
# contrib/helm-secrets-backend.sh where neither is installed. It reproduces how helm-secrets
# loads a backend and calls it: the same shell options (set -euf), the same function names
# (_custom_backend_*), arguments, order and environment (SECRET_BACKEND_ARGS from
# HELM_SECRETS_BACKEND_ARGS or --backend-args), and the same reloading of the default
# backend by name in the helm wrapper (the cause of "Can't find secret backend: custom").
#
#   harness.sh [-b BACKEND] [-a ARGS] decrypt [-i] FILE | encrypt [-i] FILE | edit FILE
#   harness.sh downloader CERT KEY CA URL            (what helm runs for a secrets:// value)
#   harness.sh [-b BACKEND] upgrade|template ... -f VALUES ...   (helm secrets <helm command>)
#   HARNESS_AS_HELM=1 harness.sh upgrade ... -f secrets://...   (plain helm, no wrapper)
# The stand-in helm prints, for each values file, "== values NAME" and what helm would read.
set -euf

HARNESS="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

fatal() {
    # shellcheck disable=SC2059
    printf "[helm-secrets] $1\n" "${2:-}" >&2
    exit 1
}

# --- backend loading (scripts/lib/backend.sh) -------------------------------------------
BUILTIN_BACKENDS="sops vals noop"

load_secret_backend() {
    _b="${1}"
    [ -n "${_b}" ] || return 0
    if [ -n "${HELM_SECRETS_ALLOWED_BACKENDS:-}" ]; then
        case ",${HELM_SECRETS_ALLOWED_BACKENDS}," in
        *",${_b},"*) ;;
        *) fatal "secret backend '%s' not allowed" "${_b}" ;;
        esac
    fi
    case " ${BUILTIN_BACKENDS} " in
    *" ${_b} "*)
        SECRET_BACKEND="${_b}"
        return 0
        ;;
    esac
    [ -f "${_b}" ] || fatal "Can't find secret backend: %s" "${_b}"
    SECRET_BACKEND="custom"
    # shellcheck disable=SC1090
    . "${_b}"
}

is_secret_backend() {
    case " ${BUILTIN_BACKENDS} " in *" ${1} "*) return 0 ;; esac
    [ -f "${1}" ]
}

backend_call() {
    _fn="${1}"
    shift
    case "${SECRET_BACKEND}" in
    custom) "_custom_backend_${_fn}" "$@" ;;
    *) fatal "the %s backend is not part of this stand-in" "${SECRET_BACKEND}" ;;
    esac
}

# --- decrypt_helper (scripts/commands/decrypt.sh) ---------------------------------------
# FILE TYPE OUTPUT: OUTPUT "stdout" prints, "" writes FILE.dec next to FILE.
decrypt_helper() {
    _file="${1}"
    _type="${2:-yaml}"
    _out="${3:-}"
    backend_call is_file_encrypted "${_file}" || return 1
    case "${_out}" in
    stdout) _dec="" ;;
    "") _dec="${_file}.dec" ;;
    *) _dec="${_out}" ;;
    esac
    if ! backend_call decrypt_file "${_type}" "${_file}" "${_dec}"; then
        [ "${_out}" != "" ] || rm -f "${_file}.dec"
        fatal 'Error while decrypting file: %s' "${_file}"
    fi
}

cmd_decrypt() {
    _out=stdout
    if [ "${1}" = "-i" ]; then
        shift
        _out="${1}"
    fi
    [ -f "${1}" ] || fatal 'File does not exist: %s' "${1}"
    # As helm-secrets: a sentinel keeps trailing newlines through the substitution.
    if ! _content=$(decrypt_helper "${1}" auto "${_out}" && printf '_'); then
        fatal 'File is not encrypted: %s' "${1}"
    fi
    printf '%s' "${_content%_}"
}

cmd_encrypt() {
    _inline=false
    if [ "${1}" = "-i" ]; then
        _inline=true
        shift
    fi
    [ -f "${1}" ] || fatal 'File does not exist: %s' "${1}"
    cd "$(dirname "${1}")"
    _name=$(basename "${1}")
    _out=""
    [ "${_inline}" = false ] || _out="${_name}"
    if backend_call is_file_encrypted "${_name}"; then
        fatal 'Already encrypted: %s' "${_name}"
    fi
    backend_call encrypt_file yaml "${_name}" "${_out}"
}

cmd_edit() {
    [ -d "$(dirname "${1}")" ] || fatal 'Directory does not exist: %s' "$(dirname "${1}")"
    cd "$(dirname "${1}")"
    backend_call edit_file yaml "$(basename "${1}")"
}

# --- downloader (scripts/commands/downloader.sh): helm passes the URL as the 4th arg ----
cmd_downloader() {
    _url="${4}"
    case "${_url}" in
    secrets+literal://*)
        _lit="${_url#secrets+literal://}"
        if [ "${_lit#*!}" != "${_lit}" ]; then
            load_secret_backend "${_lit%%!*}"
            _lit="${_lit#*!}"
        fi
        backend_call decrypt_literal "${_lit}" || exit 1
        return 0
        ;;
    secrets://*)
        _file="${_url#secrets://}"
        if [ "${_file#*!}" != "${_file}" ]; then
            load_secret_backend "${_file%%!*}"
            _file="${_file#*!}"
        fi
        ;;
    *) fatal "Unknown protocol '%s'!" "${_url}" ;;
    esac
    [ -f "${_file}" ] || fatal 'File does not exist: %s' "${_file}"
    # Not encrypted: helm gets the file as it is.
    decrypt_helper "${_file}" auto stdout || cat "${_file}"
}

# --- the helm wrapper (scripts/commands/helm.sh), -f/--values only -----------------------
cmd_helm() {
    _decrypted=""
    _n=$#
    _i=0
    while [ "${_i}" -lt "${_n}" ]; do
        case "${1}" in
        -f | --values)
            _v="${2}"
            set -- "$@" "${1}"
            shift
            _i=$((_i + 1))
            # `BACKEND!file` forces a backend; otherwise the default is loaded again, by name.
            if [ "${_v#*!}" != "${_v}" ] && is_secret_backend "${_v%%!*}"; then
                load_secret_backend "${_v%%!*}"
                _v="${_v#*!}"
            else
                load_secret_backend "${DEFAULT_SECRET_BACKEND}"
            fi
            case "${_v}" in
            secrets://*) set -- "$@" "${_v}" ;;
            *)
                [ -f "${_v}" ] || fatal 'File does not exist: %s' "${_v}"
                if decrypt_helper "${_v}" yaml; then
                    _decrypted="${_decrypted} ${_v}.dec"
                    set -- "$@" "${_v}.dec"
                else
                    set -- "$@" "${_v}"
                fi
                ;;
            esac
            ;;
        *) set -- "$@" "${1}" ;;
        esac
        shift
        _i=$((_i + 1))
    done
    _rc=0
    fake_helm "$@" || _rc=$?
    # helm-secrets removes the decrypted files when it exits.
    for _d in ${_decrypted}; do rm -f "${_d}"; done
    return "${_rc}"
}

# --- a stand-in helm: reads each values file, running the downloader for secrets:// -----
fake_helm() {
    while [ $# -gt 0 ]; do
        case "${1}" in
        -f | --values)
            echo "== values ${2}"
            case "${2}" in
            secrets://* | secrets+*://*)
                # helm runs the plugin's downloader: a new helm-secrets process.
                env -u HARNESS_AS_HELM sh "${HARNESS}" downloader "" "" "" "${2}"
                ;;
            *)
                [ -f "${2}" ] || { echo "helm: open ${2}: no such file" >&2; return 1; }
                cat "${2}"
                ;;
            esac
            shift
            ;;
        esac
        shift
    done
}

if [ -n "${HARNESS_AS_HELM:-}" ]; then
    fake_helm "$@"
    exit 0
fi

# --- run.sh: environment, global options, then the command -------------------------------
SECRET_BACKEND="${HELM_SECRETS_BACKEND:-sops}"
SECRET_BACKEND_ARGS="${HELM_SECRETS_BACKEND_ARGS:-}"
load_secret_backend "${SECRET_BACKEND}"
DEFAULT_SECRET_BACKEND="${SECRET_BACKEND}"
while true; do
    case "${1:-}" in
    -b | --backend)
        load_secret_backend "${2}"
        DEFAULT_SECRET_BACKEND="${SECRET_BACKEND}"
        shift
        ;;
    -a | --backend-args)
        SECRET_BACKEND_ARGS="${2}"
        shift
        ;;
    decrypt)
        shift
        cmd_decrypt "$@"
        break
        ;;
    encrypt)
        shift
        cmd_encrypt "$@"
        break
        ;;
    edit)
        cmd_edit "${2}"
        break
        ;;
    downloader)
        cmd_downloader "${2}" "${3}" "${4}" "${5}"
        break
        ;;
    "") fatal "no command" ;;
    *)
        cmd_helm "$@"
        break
        ;;
    esac
    shift
done
exit 0
