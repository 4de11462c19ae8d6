<?php
/**
 * The comments template while our thread replaces WordPress's: the comments embed for this post's permalink.
 *
 * @package BookingWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

if ( post_password_required() ) {
	return;
}
?>
<div id="comments" class="comments-area booking-widget-comments">
	<?php
	// booking_widget_script_tag() escapes every attribute it prints.
	echo booking_widget_script_tag( // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
		array(
			'widget' => 'comments',
			'page'   => get_permalink(),
			'accent' => booking_widget_options()['accent'],
		)
	);
	?>
</div>
