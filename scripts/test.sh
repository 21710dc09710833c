#!/usr/bin/env bash
# Run repotools' whole test suite.
#
#   bash scripts/test.sh [--no-lint] [pytest arguments...]
#
# First (re)installs what the tests need (scripts/install.sh: Debian packages,
# .venv, pip install -e '.[test]'; quick when already done), then runs
#   .venv/bin/pytest -q            the tests (no test collected counts as a failure)
#   .venv/bin/ruff check           lint, repotools/ and tests/
#   .venv/bin/mypy --strict        types, repotools/
# and exits non-zero if any of them failed. --no-lint (or REPOTOOLS_LINT=0)
# runs pytest only.
set -uo pipefail

LINT=${REPOTOOLS_LINT:-1}
PYTEST_ARGS=()
for arg in "$@"; do
	case $arg in
		--no-lint) LINT=0 ;;
		-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) PYTEST_ARGS+=("$arg") ;;
	esac
done

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP" || exit 1
VENV=${REPOTOOLS_VENV:-.venv}

bash scripts/install.sh </dev/null || { echo "==> ERROR: scripts/install.sh failed." >&2; exit 1; }

failed=()

echo "==> pytest"
"$VENV/bin/pytest" -q "${PYTEST_ARGS[@]}" </dev/null
rc=$?
case $rc in
	0) ;;
	5) echo "==> ERROR: pytest collected no tests." >&2; failed+=("pytest (no tests)") ;;
	*) failed+=("pytest (exit $rc)") ;;
esac

if [[ $LINT != 0 ]]; then
	lint_paths=(repotools)
	[[ -d tests ]] && lint_paths+=(tests)
	echo "==> ruff check ${lint_paths[*]}"
	"$VENV/bin/ruff" check "${lint_paths[@]}" || failed+=("ruff")
	echo "==> mypy --strict repotools"
	"$VENV/bin/mypy" --strict repotools || failed+=("mypy")
fi

if (( ${#failed[@]} )); then
	echo "==> FAILED: ${failed[*]}" >&2
	# keep pytest's own exit code when it failed, so CI logs show the real cause
	(( rc != 0 )) && exit "$rc"
	exit 1
fi
echo "==> All checks passed."
