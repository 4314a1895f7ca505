/* agentcli.c: one parser for the agent-role programs' options (gui-agent, guivm-export). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "agentcli.h"
#include "qgui/log.h"
#include "qgui/version.h"
#include "qubes-gui-protocol.h"

/* The exit status after a bad command line, in every program. */
#define AGENTCLI_USAGE 2

int agentcli_parse(const struct agentcli_prog *p, int argc, char **argv, struct agentcli_opts *o)
{
	enum { OPT_DISPLAY = 256, OPT_TRANSPORT, OPT_VERSION };
	static const struct option longopts[] = {
		{ "domid", required_argument, NULL, 'd' },
		{ "display", required_argument, NULL, OPT_DISPLAY },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	bool have_domid = false;
	int c;

	*o = (struct agentcli_opts){ .domid = -1, .display = NULL, .backend = QGUI_BACKEND_AUTO,
		.log_level = LOG_LVL_INFO };
	opterr = 0; /* our own one-line messages */
	while ((c = getopt_long(argc, argv, ":d:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (have_domid) {
				fprintf(stderr, "%s: -d given twice\n", p->name);
				return AGENTCLI_USAGE;
			}
			if (backend_parse_domid(optarg, &o->domid) != 0) {
				fprintf(stderr, "%s: -d: \"%.40s\" is not a domain id (0..%d)\n", p->name, optarg,
						QGUI_DOMID_LIMIT - 1);
				return AGENTCLI_USAGE;
			}
			have_domid = true;
			break;
		case OPT_DISPLAY:
			if (optarg[0] == '\0') {
				fprintf(stderr, "%s: --display: empty display name\n", p->name);
				return AGENTCLI_USAGE;
			}
			o->display = optarg;
			break;
		case OPT_TRANSPORT:
			if (backend_parse(optarg, &o->backend) != 0) {
				fprintf(stderr, "%s: --transport: \"%.40s\" is not xen, socket or auto\n", p->name, optarg);
				return AGENTCLI_USAGE;
			}
			break;
		case 'v':
			o->log_level++;
			break;
		case 'q':
			o->log_level--;
			break;
		case 'h':
			fputs(p->usage, stdout);
			return 0;
		case OPT_VERSION:
			qgui_version_print(stdout, p->name);
			return 0;
		case ':':
			fprintf(stderr, "%s: option %.60s needs a value (see --help)\n", p->name, argv[optind - 1]);
			return AGENTCLI_USAGE;
		default:
			if (optopt > 0 && optopt < 256) {
				fprintf(stderr, "%s: unknown option -%c (see --help)\n", p->name, optopt);
			} else {
				fprintf(stderr, "%s: unknown option %.60s (see --help)\n", p->name, argv[optind - 1]);
			}
			return AGENTCLI_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%.60s\" (see --help)\n", p->name, argv[optind]);
		return AGENTCLI_USAGE;
	}
	if (!have_domid) {
		fprintf(stderr, "%s: -d %s is required (see --help)\n", p->name, p->domid_arg);
		return AGENTCLI_USAGE;
	}
	return -1;
}
