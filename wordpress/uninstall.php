<?php
/**
 * Delete the plugin's option and its cached comment counts when the plugin is deleted.
 *
 * @package BookingWidget
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

delete_option( 'booking_widget' );
delete_transient( 'booking_widget_counts_down' );

global $wpdb;
// Counts are cached one transient per post address; their names share this prefix.
$booking_widget_like = $wpdb->esc_like( '_transient_booking_widget_count_' ) . '%';
$booking_widget_rows = $wpdb->get_col( $wpdb->prepare( "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE %s", $booking_widget_like ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
foreach ( $booking_widget_rows as $booking_widget_row ) {
	delete_transient( substr( $booking_widget_row, strlen( '_transient_' ) ) );
}
