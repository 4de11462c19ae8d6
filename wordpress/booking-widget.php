<?php
/**
 * Plugin Name:       Booking widget
 * Description:       The studio's booking widget (block and shortcode) and its comments thread under every post.
 * Version:           1.0.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       booking-widget
 *
 * @package BookingWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'BOOKING_WIDGET_VERSION', '1.0.0' );
define( 'BOOKING_WIDGET_DIR', __DIR__ );
// The one option row the plugin keeps; uninstall.php deletes it.
define( 'BOOKING_WIDGET_OPTION', 'booking_widget' );

require_once __DIR__ . '/includes/options.php';
require_once __DIR__ . '/includes/embed.php';
require_once __DIR__ . '/includes/comments.php';
require_once __DIR__ . '/includes/settings.php';

add_shortcode( 'booking_widget', 'booking_widget_shortcode' );
add_action( 'init', 'booking_widget_register_block' );
add_filter( 'comments_template', 'booking_widget_comments_template', 20 );
add_filter( 'get_comments_number', 'booking_widget_comments_number', 10, 2 );
add_action( 'admin_menu', 'booking_widget_admin_menu' );
add_action( 'admin_init', 'booking_widget_register_settings' );
add_filter( 'plugin_action_links_' . plugin_basename( __FILE__ ), 'booking_widget_action_links' );

/**
 * Register the "Booking widget" block from its block.json.
 */
function booking_widget_register_block() {
	register_block_type( __DIR__ . '/blocks/booking-widget' );
}
