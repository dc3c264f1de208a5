#!/usr/bin/env python3
"""Makes the Lambda zip: BINARY as `bootstrap` plus every shared library it needs that is
not glibc's, under lib/ (the bootstrap's RPATH is $ORIGIN/lib, so they win over the
system's; Lambda also puts /var/task/lib on LD_LIBRARY_PATH). Built as src/CMakeLists.txt
builds it, those are C libraries only (libcurl and its dependencies, OpenSSL, SQLite,
libsodium, zlib): the C++ ones are linked statically. Refuses to carry GCC's own
libstdc++.so.6 or libgcc_s.so.1: Debian 12's need glibc 2.36 (arc4random, _dl_find_object),
which Amazon Linux 2023 lacks, so needing them means a C++ shared library crept back into
the bootstrap's link.

usage: make_zip.py BINARY OUT.zip
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile

# glibc's own libraries: always the system's (Amazon Linux 2023 has glibc 2.34), never
# carried, since they must match the dynamic loader.
GLIBC = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so",
         "librt.so", "libresolv.so", "libutil.so", "libanl.so", "libnsl.so")
# GCC's runtime: linked statically into the bootstrap, never carried (see above).
GCC_RUNTIME = ("libstdc++.so", "libgcc_s.so")


def needed_libraries(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        line = line.strip()
        if "=>" not in line:
            continue
        name, rest = [p.strip() for p in line.split("=>", 1)]
        path = rest.split(" (")[0].strip()
        if name.startswith(GLIBC):
            continue
        if path == "not found":
            sys.exit(f"make_zip: {binary} needs {name}, which is not installed")
        if name.startswith(GCC_RUNTIME):
            sys.exit(f"make_zip: {binary} needs {name}: some library it links is a shared C++"
                     " library; link it statically (src/CMakeLists.txt, the lambda zip)")
        libs.append((name, path))
    return libs


def main():
    binary, out = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as stage:
        bootstrap = os.path.join(stage, "bootstrap")
        shutil.copyfile(binary, bootstrap)
        subprocess.run(["strip", "--strip-debug", bootstrap], check=True)
        os.chmod(bootstrap, 0o755)
        libs = needed_libraries(binary)
        os.makedirs(os.path.join(stage, "lib"))
        for name, path in libs:
            shutil.copyfile(os.path.realpath(path), os.path.join(stage, "lib", name))
            subprocess.run(["strip", "--strip-debug", os.path.join(stage, "lib", name)], check=True)
        tmp = out + ".tmp"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for root, _, files in os.walk(stage):
                for f in sorted(files):
                    full = os.path.join(root, f)
                    info = zipfile.ZipInfo(os.path.relpath(full, stage))
                    mode = os.stat(full).st_mode
                    info.external_attr = (stat.S_IFREG | (mode & 0o777)) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with open(full, "rb") as fh:
                        z.writestr(info, fh.read())
        os.replace(tmp, out)
        # The unpacked tree too, for the glibc check and for inspection.
        tree = os.path.splitext(out)[0]
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(stage, tree)
    print(f"{out}: bootstrap + {len(libs)} libraries: {', '.join(n for n, _ in libs)}")


if __name__ == "__main__":
    main()
