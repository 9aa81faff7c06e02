#!/usr/bin/env bash
# Regenerates the generated sections of docs/ from the code:
#   docs/configuration.md  <- hongyand --config-reference
#   docs/protocols.md      <- hongyand --protocols
# With --check, changes nothing and fails if the docs are out of date (run by ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
mode="${2:-write}"
hongyand="$build/hongyand"
[[ -x "$hongyand" ]] || hongyand="$1"

replace_section() {  # file marker-name generated-text
    local file="$1" name="$2" text="$3"
    python3 - "$file" "$name" "$text" "$mode" <<'PY'
import sys
path, name, text, mode = sys.argv[1:5]
begin, end = f"<!-- BEGIN GENERATED {name} -->", f"<!-- END GENERATED {name} -->"
doc = open(path).read()
a, b = doc.index(begin) + len(begin), doc.index(end)
new = doc[:a] + "\n" + text.rstrip("\n") + "\n" + doc[b:]
if mode == "--check":
    if new != doc:
        sys.exit(f"{path} is out of date: run 'make docs' and commit the result")
else:
    open(path, "w").write(new)
PY
}

replace_section docs/configuration.md config-reference "$("$hongyand" --config-reference)"
replace_section docs/protocols.md protocols "$("$hongyand" --protocols)"
