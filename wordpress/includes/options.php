<?php
/**
 * The plugin's settings, read with their defaults.
 *
 * @package BookingWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Return the plugin's settings, every key present.
 *
 * @return array{service_url: string, accent: string, comment_types: string[]}
 */
function booking_widget_options() {
	$saved = get_option( BOOKING_WIDGET_OPTION, array() );
	if ( ! is_array( $saved ) ) {
		$saved = array();
	}
	return array(
		'service_url'   => isset( $saved['service_url'] ) ? (string) $saved['service_url'] : '',
		'accent'        => isset( $saved['accent'] ) ? (string) $saved['accent'] : '',
		'comment_types' => isset( $saved['comment_types'] ) && is_array( $saved['comment_types'] ) ? array_values( $saved['comment_types'] ) : array(),
	);
}

/**
 * Return the service's address without a trailing slash, or '' when it is not set.
 *
 * @return string
 */
function booking_widget_service_url() {
	return untrailingslashit( booking_widget_options()['service_url'] );
}

/**
 * Say whether our comments replace WordPress's on this post.
 *
 * @param int|WP_Post|null $post The post.
 * @return bool
 */
function booking_widget_replaces_comments( $post ) {
	$post = get_post( $post );
	if ( ! $post || '' === booking_widget_service_url() ) {
		return false;
	}
	return in_array( $post->post_type, booking_widget_options()['comment_types'], true );
}
