#!/usr/bin/env bash
# Builds the Java push peer (integration/java: io.pyroscope:agent in push mode) with Maven into
# integration/java/target (gitignored): target/javapush.jar, whose manifest class path names
# target/lib/agent-<version>.jar. Run it with `java -jar integration/java/target/javapush.jar`.
# Rebuilt only when pom.xml or a file under src/ is newer than the jar, so a second run costs
# nothing. Offline first (`mvn -o`: everything already in ~/.m2), else online from Maven
# Central (the agent and the pinned build plugins).
# Usage: integration/java/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jar="$here/target/javapush.jar"
lib="$here/target/lib"

die() { echo "java/build.sh: $*" >&2; exit 1; }

command -v java >/dev/null 2>&1 || die "no java on PATH (Java 17 or newer; apt-get install openjdk-17-jdk-headless)"
command -v mvn >/dev/null 2>&1 || die "no mvn on PATH (apt-get install maven)"

if [ -f "$jar" ] && [ -n "$(ls "$lib"/agent-*.jar 2>/dev/null)" ] \
  && [ -z "$(find "$here/pom.xml" "$here/src" -newer "$jar" | head -1)" ]; then
  exit 0
fi
start=$(date +%s)
echo "java/build.sh: building the Java push peer with $(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g')" >&2
rm -rf "$lib"
mkdir -p "$here/target"
if ! (cd "$here" && mvn -q -B -o package >"$here/target/build.log" 2>&1); then
  echo "java/build.sh: offline build failed (something is not in ~/.m2 yet); building online" >&2
  (cd "$here" && mvn -q -B package >"$here/target/build.log" 2>&1) || {
    tail -30 "$here/target/build.log" >&2; rm -f "$jar"; die "mvn package failed (log: $here/target/build.log)"; }
fi
[ -f "$jar" ] || die "mvn package left no $jar"
touch "$jar"
echo "java/build.sh: built $jar in $(($(date +%s) - start)) s" >&2
