<?php
/**
 * Render the "Booking widget" block on the server: the saved post holds only the block's attributes.
 *
 * @package BookingWidget
 * @var array $attributes The block's attributes.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

// booking_widget_markup() escapes everything it prints.
echo booking_widget_markup( $attributes ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
