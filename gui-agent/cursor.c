/* cursor.c: X cursor names (as XFixes reports them) to the protocol's CURSOR_X11 + XC_* glyph ids. */
#include <string.h>

#include <X11/cursorfont.h>

#include "agent.h"

struct cursor_name {
	const char *name;
	unsigned glyph;
};

/* The X core cursor font, by the names of X11/cursorfont.h. */
static const struct cursor_name font_names[] = {
	{ "X_cursor", XC_X_cursor },
	{ "arrow", XC_arrow },
	{ "based_arrow_down", XC_based_arrow_down },
	{ "based_arrow_up", XC_based_arrow_up },
	{ "boat", XC_boat },
	{ "bogosity", XC_bogosity },
	{ "bottom_left_corner", XC_bottom_left_corner },
	{ "bottom_right_corner", XC_bottom_right_corner },
	{ "bottom_side", XC_bottom_side },
	{ "bottom_tee", XC_bottom_tee },
	{ "box_spiral", XC_box_spiral },
	{ "center_ptr", XC_center_ptr },
	{ "circle", XC_circle },
	{ "clock", XC_clock },
	{ "coffee_mug", XC_coffee_mug },
	{ "cross", XC_cross },
	{ "cross_reverse", XC_cross_reverse },
	{ "crosshair", XC_crosshair },
	{ "diamond_cross", XC_diamond_cross },
	{ "dot", XC_dot },
	{ "dotbox", XC_dotbox },
	{ "double_arrow", XC_double_arrow },
	{ "draft_large", XC_draft_large },
	{ "draft_small", XC_draft_small },
	{ "draped_box", XC_draped_box },
	{ "exchange", XC_exchange },
	{ "fleur", XC_fleur },
	{ "gobbler", XC_gobbler },
	{ "gumby", XC_gumby },
	{ "hand1", XC_hand1 },
	{ "hand2", XC_hand2 },
	{ "heart", XC_heart },
	{ "icon", XC_icon },
	{ "iron_cross", XC_iron_cross },
	{ "left_ptr", XC_left_ptr },
	{ "left_side", XC_left_side },
	{ "left_tee", XC_left_tee },
	{ "leftbutton", XC_leftbutton },
	{ "ll_angle", XC_ll_angle },
	{ "lr_angle", XC_lr_angle },
	{ "man", XC_man },
	{ "middlebutton", XC_middlebutton },
	{ "mouse", XC_mouse },
	{ "pencil", XC_pencil },
	{ "pirate", XC_pirate },
	{ "plus", XC_plus },
	{ "question_arrow", XC_question_arrow },
	{ "right_ptr", XC_right_ptr },
	{ "right_side", XC_right_side },
	{ "right_tee", XC_right_tee },
	{ "rightbutton", XC_rightbutton },
	{ "rtl_logo", XC_rtl_logo },
	{ "sailboat", XC_sailboat },
	{ "sb_down_arrow", XC_sb_down_arrow },
	{ "sb_h_double_arrow", XC_sb_h_double_arrow },
	{ "sb_left_arrow", XC_sb_left_arrow },
	{ "sb_right_arrow", XC_sb_right_arrow },
	{ "sb_up_arrow", XC_sb_up_arrow },
	{ "sb_v_double_arrow", XC_sb_v_double_arrow },
	{ "shuttle", XC_shuttle },
	{ "sizing", XC_sizing },
	{ "spider", XC_spider },
	{ "spraycan", XC_spraycan },
	{ "star", XC_star },
	{ "target", XC_target },
	{ "tcross", XC_tcross },
	{ "top_left_arrow", XC_top_left_arrow },
	{ "top_left_corner", XC_top_left_corner },
	{ "top_right_corner", XC_top_right_corner },
	{ "top_side", XC_top_side },
	{ "top_tee", XC_top_tee },
	{ "trek", XC_trek },
	{ "ul_angle", XC_ul_angle },
	{ "umbrella", XC_umbrella },
	{ "ur_angle", XC_ur_angle },
	{ "watch", XC_watch },
	{ "xterm", XC_xterm },
};

/* Names cursor themes and toolkits use (freedesktop cursor spec, CSS), mapped to the nearest glyph. */
static const struct cursor_name aliases[] = {
	{ "default", XC_left_ptr },
	{ "pointer", XC_hand2 },
	{ "hand", XC_hand2 },
	{ "text", XC_xterm },
	{ "ibeam", XC_xterm },
	{ "wait", XC_watch },
	{ "progress", XC_watch },
	{ "left_ptr_watch", XC_watch },
	{ "help", XC_question_arrow },
	{ "move", XC_fleur },
	{ "all-scroll", XC_fleur },
	{ "grabbing", XC_fleur },
	{ "not-allowed", XC_X_cursor },
	{ "no-drop", XC_X_cursor },
	{ "col-resize", XC_sb_h_double_arrow },
	{ "row-resize", XC_sb_v_double_arrow },
	{ "ew-resize", XC_sb_h_double_arrow },
	{ "ns-resize", XC_sb_v_double_arrow },
	{ "e-resize", XC_right_side },
	{ "w-resize", XC_left_side },
	{ "n-resize", XC_top_side },
	{ "s-resize", XC_bottom_side },
	{ "ne-resize", XC_top_right_corner },
	{ "nw-resize", XC_top_left_corner },
	{ "se-resize", XC_bottom_right_corner },
	{ "sw-resize", XC_bottom_left_corner },
	{ "h_double_arrow", XC_sb_h_double_arrow },
	{ "v_double_arrow", XC_sb_v_double_arrow },
	{ "size_hor", XC_sb_h_double_arrow },
	{ "size_ver", XC_sb_v_double_arrow },
	{ "size_all", XC_fleur },
	{ "split_h", XC_sb_h_double_arrow },
	{ "split_v", XC_sb_v_double_arrow },
};

static unsigned lookup(const struct cursor_name *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].name, name) == 0) {
			return t[i].glyph;
		}
	}
	return XC_num_glyphs;
}

uint32_t cursor_from_name(const char *name)
{
	unsigned glyph;

	if (name == NULL) {
		return CURSOR_DEFAULT;
	}
	glyph = lookup(font_names, sizeof(font_names) / sizeof(font_names[0]), name);
	if (glyph == XC_num_glyphs) {
		glyph = lookup(aliases, sizeof(aliases) / sizeof(aliases[0]), name);
	}
	/* the daemon accepts CURSOR_X11 + glyph only below CURSOR_X11_MAX */
	if (glyph >= XC_num_glyphs || CURSOR_X11 + glyph >= CURSOR_X11_MAX) {
		return CURSOR_DEFAULT;
	}
	return CURSOR_X11 + glyph;
}
