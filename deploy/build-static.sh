#!/usr/bin/env bash
# Builds the shipped binary exactly as deploy/Dockerfile does (the Dockerfile runs this
# script): locked dependencies, the musl target, statically linked. Installs what the
# build needs when it is missing (the musl target's standard library, musl-gcc for the C
# in ring and SQLite), then checks the result: a static executable with no program
# interpreter and no shared library, which prints its version.
# Prints the binary's path (target/static/adoport) on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl

if ! rustup target list --installed | grep -qx "$target"; then
  echo "build-static: adding the $target target" >&2
  rustup target add "$target" >&2
fi
if ! command -v musl-gcc >/dev/null; then
  echo "build-static: installing musl-tools (musl-gcc)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends musl-tools >&2
fi

# The C parts (ring, SQLite) compiled against musl's headers, not glibc's; the Rust
# parts linked statically (the default for musl, made explicit).
export CC_x86_64_unknown_linux_musl=musl-gcc
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static"

# The dist profile (Cargo.toml): the release profile with whole-program optimization.
echo "build-static: cargo build --profile dist --locked --target $target --bin adoport" >&2
cargo build --profile dist --locked --target "$target" --bin adoport >&2

# The profile keeps line tables (150 MB here); the image gets the binary without its
# debug sections (symbols stay, for backtraces).
built="target/$target/dist/adoport"
bin=target/static/adoport
mkdir -p target/static
strip --strip-debug -o "$bin" "$built"
# Checks: an ELF executable with no interpreter and no NEEDED entry runs with no libc
# beside it.
if readelf --program-headers "$bin" | grep -q INTERP; then
  echo "build-static: $bin asks for a program interpreter: not static" >&2
  exit 1
fi
if readelf --dynamic "$bin" | grep -q NEEDED; then
  echo "build-static: $bin needs shared libraries:" >&2
  readelf --dynamic "$bin" | grep NEEDED >&2
  exit 1
fi
"$bin" --version >&2
echo "build-static: $bin is static ($(du -h "$bin" | cut -f1))" >&2
echo "$bin"
