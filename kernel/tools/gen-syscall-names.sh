#!/bin/sh
# Turns abi/syscalls.tsv into C: `names` gives the array of names indexed by number,
# `numbers` gives a header of NR_<name> constants.
set -eu
case "$1" in
names)
    echo '/* Generated from abi/syscalls.tsv by tools/gen-syscall-names.sh. */'
    echo '#include "syscall_names.h"'
    echo 'const char *const syscall_names[SYSCALL_NAMES_LEN] = {'
    awk -F '\t' '{ printf "    [%s] = \"%s\",\n", $1, $2 }' "$2"
    echo '};'
    ;;
numbers)
    echo '/* Generated from abi/syscalls.tsv by tools/gen-syscall-names.sh. */'
    echo '#ifndef SYSCALL_NUMBERS_H'
    echo '#define SYSCALL_NUMBERS_H'
    awk -F '\t' '{ printf "#define NR_%s %s\n", $2, $1 }' "$2"
    echo '#endif'
    ;;
esac
