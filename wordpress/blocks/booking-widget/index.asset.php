<?php
/**
 * The editor script's dependencies, read by register_block_type().
 *
 * @package BookingWidget
 */

return array(
	'dependencies' => array( 'wp-blocks', 'wp-element', 'wp-block-editor', 'wp-components', 'wp-i18n' ),
	'version'      => '1.0.0',
);
