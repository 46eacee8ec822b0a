#!/usr/bin/env bash
# Records which functions of the release `agent-runner` the common commands execute, and writes
# them to link/hot-functions.txt, the symbol order the linker follows (see link/README.md).
# Needs valgrind. Run it with `make hot-functions` after changes that move much code around.
#
# Symbol names carry a hash of the build's profile, so the binary is built and recorded twice:
# as `cargo build --release` makes it (what users install) and as `cargo bench` makes it (what
# the benchmarks measure); the file lists the names of both.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cargo=${CARGO:-cargo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$repo" && "$cargo" build --release --bin agent-runner)
cp "$repo/target/release/agent-runner" "$work/release"
(cd "$repo" && "$cargo" bench --no-run --bench run)
cp "$repo/target/release/agent-runner" "$work/bench"
project=$work/project
flows=$project/.agent-runner/workflows
mkdir -p "$flows/subs"

# A run of shell steps with a loop and a capture; a run that fails (then resumed); a file with
# conditions and sub-workflows to validate.
{
	echo "name: steps"
	echo "steps:"
	for i in $(seq 1 30); do printf '  - id: s%s\n    command: "true"\n' "$i"; done
	printf '  - id: each\n    loop: {max: 3, as_index: i}\n    steps:\n'
	printf '      - id: echo\n        command: echo {{i}}\n        capture: out\n'
} >"$flows/steps.yaml"
printf 'name: fail\nsteps:\n  - id: a\n    command: "true"\n  - id: b\n    command: "exit 3"\n' >"$flows/fail.yaml"
{
	echo "name: big"
	echo "params: [change, {name: mode, default: full}]"
	echo "steps:"
	for i in $(seq 1 10); do
		printf '  - id: call-%s\n    workflow: subs/sub%s.yaml\n    params: {topic: "{{change}}"}\n' "$i" "$i"
		printf 'name: sub%s\nparams: [topic]\nsteps:\n  - id: one\n    command: echo {{topic}}\n' "$i" >"$flows/subs/sub$i.yaml"
	done
	for i in $(seq 1 100); do
		printf '  - id: shell-%s\n    when: mode == "full" && steps["call-1"].outcome != "failed"\n' "$i"
		printf '    command: echo step %s {{change}}\n    capture: out%s\n' "$i" "$i"
		printf '  - id: fix-%s\n    mode: headless\n    prompt: "Fix: {{out%s}}"\n' "$i" "$i"
	done
} >"$flows/big.yaml"

runs=0
record() {
	runs=$((runs + 1))
	(cd "$project" && HOME=$project AGENT_RUNNER_HOME=$project/home \
		valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg.$runs" \
		"$bin" "$@" >/dev/null 2>&1) || true
}
for bin in "$work/release" "$work/bench"; do
	rm -rf "$project/home"
	record --version
	record --validate big
	record -q steps
	record steps
	record --dry-run steps
	record list
	record fail
	session=$(cd "$project" && HOME=$project AGENT_RUNNER_HOME=$project/home "$bin" list 2>/dev/null |
		awk '/^fail-/ {print $1; exit}')
	record --resume --session "$session"
done

# Every function of the binary that ran, the ones run by the most commands first.
out=$repo/link/hot-functions.txt
{
	echo "# Written by link/record-hot-functions.sh: the functions of agent-runner that the common"
	echo "# commands execute, placed side by side by the linker (see link/README.md)."
	for f in "$work"/cg.*; do
		awk '
			/^c?(ob|fn)=\(/ {
				eq = index($0, "="); kind = substr($0, 1, eq - 1); rest = substr($0, eq + 2)
				cut = index(rest, ")"); id = substr(rest, 1, cut - 1); name = substr(rest, cut + 2)
				if (name != "" && kind ~ /ob$/) obs[id] = name
				if (name != "" && kind ~ /fn$/) fns[id] = name
				if (kind == "ob") binary = (obs[id] ~ /\/(release|bench)$/)
				if (kind == "fn" && binary && fns[id] ~ /^(_ZN|_R)/) seen[fns[id]] = 1
			}
			END { for (name in seen) print name }
		' "$f"
	done | sort | uniq -c | sort -k1,1nr -k2,2 | awk '{print $2}'
} >"$out"
echo "wrote $(grep -vc '^#' "$out") names from $runs commands to $out"
