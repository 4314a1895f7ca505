/* version.c: the stack's version; the Makefile defines QGUI_VERSION from the file "version". */
#include "qgui/version.h"
#include "qubes-gui-protocol.h"

#ifndef QGUI_VERSION
#error "QGUI_VERSION is not defined: build through the top-level Makefile, which reads the file version"
#endif

const char qgui_version[] = QGUI_VERSION;

void qgui_version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s (guivm-stack) %s, Qubes GUI protocol %d.%d\n", prog, qgui_version,
			QUBES_GUID_PROTOCOL_VERSION_MAJOR, QUBES_GUID_PROTOCOL_VERSION_MINOR);
	fflush(f);
}
