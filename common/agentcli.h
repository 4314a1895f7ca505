/* agentcli.h: the command line of the agent-role programs (gui-agent, guivm-export). */
#ifndef AGENTCLI_H
#define AGENTCLI_H

#include "qgui/backend.h"

/* What the command line says. */
struct agentcli_opts {
	int domid;                 /* -d, --domid: the daemon role's domain (vchan client, grantee) */
	const char *display;       /* --display (never empty), or NULL for $DISPLAY; points into argv */
	enum qgui_backend backend; /* --transport (default QGUI_BACKEND_AUTO) */
	int log_level;             /* LOG_LVL_INFO, one up per -v, one down per -q (log_set_level clamps) */
};

/* What differs between the programs; every string is the caller's and must outlive the call. */
struct agentcli_prog {
	const char *name;      /* starts every error line: "gui-agent" */
	const char *domid_arg; /* -d's value in the "is required" line: "GUI_DOMID" */
	const char *usage;     /* the whole --help text, printed as it is; --version: qgui_version_print(name) */
};

/*
 * Parses argv (getopt_long, error messages of its own) for the options
 * -d/--domid=ID (required, once), --display=NAME, --transport=xen|socket|auto,
 * -v/--verbose, -q/--quiet (both repeatable), -h/--help and --version, into
 * *o. Returns -1 to go on; 0 after --help or --version (printed on stdout);
 * 2 after one line on stderr naming the option or argument at fault.
 */
int agentcli_parse(const struct agentcli_prog *p, int argc, char **argv, struct agentcli_opts *o);

#endif
