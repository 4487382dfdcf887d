# Sourced by the scripts that need Python packages (scripts/install-test-deps.sh,
# benches/tsbs_duckdb.sh): `need_python IMPORTS PACKAGE...` installs the
# PyPI PACKAGEs with pip unless `import IMPORTS` already works.

pip_install() {
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$@"
}

need_python() {
  local imports=$1
  shift
  python3 -c "import $imports" 2>/dev/null || pip_install "$@"
}
