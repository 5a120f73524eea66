#!/bin/sh
# validate-scan-reports.sh: check `backdoorlab scan` reports the way CI systems would read them.
# Usage: sh scripts/validate-scan-reports.sh [--junit F.xml] [--sarif F.sarif] ...   exit 0 only if all are valid.
#   SARIF: validated against the SARIF 2.1.0 JSON schema (sarif-2.1.0-rtm.5.json from the npm package
#          @microsoft/jest-sarif, scripts/fetch-sarif-schema.sh) with Debian's python3-jsonschema (Draft 4).
#   JUnit: there is no JUnit XSD in Debian's or npm's packages that is the format's reference (the format has no
#          single owner), so: xmllint (libxml2-utils) for well-formedness, then the structure GitLab, GitHub and
#          Jenkins read: <testsuites>/<testsuite>/<testcase name classname time>, at most one <failure>, <error>
#          or <skipped> per testcase, and tests/failures/errors/skipped attributes equal to the counted children.
set -eu
SCHEMA=${SARIF_SCHEMA:-build/schemas/sarif-2.1.0-rtm.5.json}
# Debian's interpreter first: python3-jsonschema installs there (another python3 on PATH may lack it).
PY=python3
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null && PY=/usr/bin/python3
rc=0
while [ $# -ge 2 ]; do
    kind=$1 f=$2
    shift 2
    case "$kind" in
    --sarif)
        [ -f "$SCHEMA" ] || { echo "validate: no SARIF schema at $SCHEMA (sh scripts/fetch-sarif-schema.sh)" >&2; exit 2; }
        "$PY" - "$SCHEMA" "$f" <<'PYEOF' || rc=1
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
errs = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errs[:5]:
    print("validate: %s: SARIF schema: %s at %s" % (sys.argv[2], e.message[:200], list(e.path)), file=sys.stderr)
# What the schema cannot say: every ruleId is declared by the driver, and ruleIndex points at it.
rules = [r["id"] for r in doc["runs"][0]["tool"]["driver"].get("rules", [])]
for res in doc["runs"][0].get("results", []):
    if res.get("ruleId") not in rules or rules.index(res["ruleId"]) != res.get("ruleIndex", -1):
        errs.append(1)
        print("validate: %s: result ruleId %r not declared at ruleIndex" % (sys.argv[2], res.get("ruleId")), file=sys.stderr)
sys.exit(1 if errs else 0)
PYEOF
        ;;
    --junit)
        xmllint --noout "$f" || { rc=1; continue; }
        "$PY" - "$f" <<'PYEOF' || rc=1
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
bad = []
suites = [root] if root.tag == "testsuite" else list(root) if root.tag == "testsuites" else None
if suites is None: bad.append("root is <%s>, not <testsuites> or <testsuite>" % root.tag); suites = []
tot = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for s in suites:
    if s.tag != "testsuite": bad.append("<%s> inside <testsuites>" % s.tag); continue
    if not s.get("name"): bad.append("testsuite without name")
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for c in s:
        if c.tag in ("properties", "system-out", "system-err"): continue
        if c.tag != "testcase": bad.append("<%s> inside <testsuite>" % c.tag); continue
        n["tests"] += 1
        if not c.get("name") or not c.get("classname"): bad.append("testcase without name/classname")
        float(c.get("time", "0"))
        kids = [k.tag for k in c if k.tag in ("failure", "error", "skipped")]
        if len(kids) > 1: bad.append("testcase %s has %s" % (c.get("name"), kids))
        for k in kids: n[{"failure": "failures", "error": "errors", "skipped": "skipped"}[k]] += 1
    for k, v in n.items():
        if int(s.get(k, "0")) != v: bad.append("testsuite %s=%s but %d counted" % (k, s.get(k), v))
        tot[k] += v
    float(s.get("time", "0"))
if root.tag == "testsuites":
    for k, v in tot.items():
        if root.get(k) is not None and int(root.get(k)) != v: bad.append("testsuites %s=%s but %d counted" % (k, root.get(k), v))
for b in bad: print("validate: %s: JUnit: %s" % (sys.argv[1], b), file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
        ;;
    *) echo "validate: unknown option $kind" >&2; exit 2 ;;
    esac
done
exit $rc
