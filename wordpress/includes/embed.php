<?php
/**
 * The embed's script tag, the [booking_widget] shortcode and the block's rendering.
 *
 * @package BookingWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Return the script tag that places the widget, its data attributes escaped; '' when the service is not set.
 *
 * @param array $data Data attributes without the "data-" prefix (widget, mode, service, page, accent, title, button).
 * @return string
 */
function booking_widget_script_tag( array $data ) {
	$service_url = booking_widget_service_url();
	if ( '' === $service_url ) {
		return '';
	}
	$html = '<script src="' . esc_url( $service_url . '/embed.js' ) . '"';
	foreach ( $data as $name => $value ) {
		if ( '' === (string) $value ) {
			continue;
		}
		$html .= ' data-' . sanitize_key( $name ) . '="' . esc_attr( $value ) . '"';
	}
	return $html . ' async></script>';
}

/**
 * Return the booking widget's markup for these options (shortcode attributes or block attributes).
 *
 * @param array $options service, mode, button, accent, title.
 * @return string
 */
function booking_widget_markup( $options ) {
	$options = shortcode_atts(
		array(
			'service' => '',
			'mode'    => 'inline',
			'button'  => '',
			'accent'  => '',
			'title'   => '',
		),
		is_array( $options ) ? $options : array(),
		'booking_widget'
	);
	if ( '' === booking_widget_service_url() ) {
		if ( current_user_can( 'manage_options' ) ) {
			return '<p class="booking-widget-missing">' . esc_html__( 'Booking widget: enter the service address under Settings → Booking widget.', 'booking-widget' ) . '</p>';
		}
		return '';
	}
	$accent = sanitize_hex_color( (string) $options['accent'] );
	if ( ! $accent ) {
		$accent = booking_widget_options()['accent'];
	}
	$tag = booking_widget_script_tag(
		array(
			'mode'    => 'popup' === $options['mode'] ? 'popup' : 'inline',
			'service' => sanitize_key( (string) $options['service'] ),
			'accent'  => (string) $accent,
			'title'   => sanitize_text_field( (string) $options['title'] ),
			'button'  => 'popup' === $options['mode'] ? sanitize_text_field( (string) $options['button'] ) : '',
		)
	);
	return '<div class="booking-widget">' . $tag . '</div>';
}

/**
 * Render [booking_widget service="massage-60" mode="popup" button="Book now" accent="#2f5d50" title="…"].
 *
 * @param array|string $atts The shortcode's attributes.
 * @return string
 */
function booking_widget_shortcode( $atts ) {
	return booking_widget_markup( is_array( $atts ) ? $atts : array() );
}
