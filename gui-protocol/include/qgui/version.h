/* qgui/version.h: the stack's version, from the top-level file "version", for every program's --version. */
#ifndef QGUI_VERSION_H
#define QGUI_VERSION_H

#include <stdio.h>

/* "0.1.0": the first line of the file "version" at build time. */
extern const char qgui_version[];

/*
 * Writes the --version text of program prog ("gui-daemon") to f, one line:
 * "gui-daemon (guivm-stack) 0.1.0, Qubes GUI protocol 1.8". The packages'
 * versions come from the same file.
 */
void qgui_version_print(FILE *f, const char *prog);

#endif
