# shellcheck shell=bash
# Source me: `. tools/pyenv-path.sh`
#
# Makes python3.11, python3.12 and python3.13 from pyenv findable on
# PATH (tox's interpreter discovery looks them up by those names) without
# changing what `python`, `python3` or `pip` mean: it symlinks only the
# versioned names into one small directory and puts that directory first.
# For each minor version the newest installed patch release is used
# ($PYENV_ROOT/versions/3.N.*). A missing version is reported, not fatal here:
# tox itself then fails for that env (skip_missing_interpreters = false).
_altgc_pyenv_root=$(pyenv root 2>/dev/null || true)
_altgc_pyenv_root=${_altgc_pyenv_root:-${PYENV_ROOT:-$HOME/.pyenv}}
_altgc_pybin=${ALTGC_PYBIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/altgc-pybin}
mkdir -p "$_altgc_pybin"
for _altgc_minor in 11 12 13; do
    _altgc_exe=$(ls -d "$_altgc_pyenv_root"/versions/3."$_altgc_minor".*/bin/python3."$_altgc_minor" 2>/dev/null \
                 | sort -V | tail -n 1)
    if [ -n "$_altgc_exe" ]; then
        ln -sfn "$_altgc_exe" "$_altgc_pybin/python3.$_altgc_minor"
    else
        rm -f "$_altgc_pybin/python3.$_altgc_minor"
        echo "pyenv-path.sh: no python3.$_altgc_minor under $_altgc_pyenv_root/versions" >&2
    fi
done
case ":$PATH:" in
    *":$_altgc_pybin:"*) ;;
    *) PATH="$_altgc_pybin:$PATH"; export PATH ;;
esac
unset _altgc_pyenv_root _altgc_pybin _altgc_minor _altgc_exe
