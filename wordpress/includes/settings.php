<?php
/**
 * Settings → Booking widget: the service's address, the accent colour, where our comments replace WordPress's.
 *
 * @package BookingWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Add the settings page under Settings.
 */
function booking_widget_admin_menu() {
	add_options_page(
		__( 'Booking widget', 'booking-widget' ),
		__( 'Booking widget', 'booking-widget' ),
		'manage_options',
		'booking-widget',
		'booking_widget_settings_page'
	);
}

/**
 * Link the settings page from the plugins list.
 *
 * @param string[] $links The plugin's action links.
 * @return string[]
 */
function booking_widget_action_links( $links ) {
	$url = admin_url( 'options-general.php?page=booking-widget' );
	array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'booking-widget' ) . '</a>' );
	return $links;
}

/**
 * Register the option with the Settings API, which checks manage_options and the form's nonce on save.
 */
function booking_widget_register_settings() {
	register_setting(
		'booking_widget',
		BOOKING_WIDGET_OPTION,
		array(
			'type'              => 'array',
			'sanitize_callback' => 'booking_widget_sanitize',
			'default'           => array(),
		)
	);
}

/**
 * Return the blog's origin (scheme, host and port), the value the service must allow.
 *
 * @return string
 */
function booking_widget_blog_origin() {
	$parts  = wp_parse_url( home_url() );
	$origin = ( isset( $parts['scheme'] ) ? $parts['scheme'] : 'https' ) . '://' . ( isset( $parts['host'] ) ? $parts['host'] : '' );
	if ( isset( $parts['port'] ) ) {
		$origin .= ':' . $parts['port'];
	}
	return strtolower( $origin );
}

/**
 * Say whether plain http is acceptable for this host: on loopback, or on a local or development site.
 *
 * @param string $host The service's host.
 * @return bool
 */
function booking_widget_http_allowed( $host ) {
	if ( in_array( wp_get_environment_type(), array( 'local', 'development' ), true ) ) {
		return true;
	}
	return 'localhost' === $host || '[::1]' === $host || '::1' === $host || 0 === strpos( $host, '127.' );
}

/**
 * Validate the submitted settings; keep the saved value of a field that is wrong and say why.
 *
 * @param mixed $input The submitted option.
 * @return array
 */
function booking_widget_sanitize( $input ) {
	static $done = null;
	// When the option is first created WordPress sanitizes the sanitized value again: check (and warn) once.
	if ( null !== $done && $input === $done ) {
		return $done;
	}
	$saved  = booking_widget_options();
	$input  = is_array( $input ) ? $input : array();
	$result = $saved;

	$url = isset( $input['service_url'] ) ? trim( (string) $input['service_url'] ) : '';
	if ( '' === $url ) {
		$result['service_url'] = '';
	} else {
		$error = booking_widget_url_problem( $url );
		if ( $error ) {
			add_settings_error( BOOKING_WIDGET_OPTION, 'service_url', $error );
		} else {
			$result['service_url'] = untrailingslashit( esc_url_raw( $url, array( 'http', 'https' ) ) );
			$warning               = booking_widget_reachability_problem( $result['service_url'] );
			if ( $warning ) {
				add_settings_error( BOOKING_WIDGET_OPTION, 'service_unreachable', $warning, 'warning' );
			}
		}
	}

	$accent = isset( $input['accent'] ) ? trim( (string) $input['accent'] ) : '';
	if ( '' === $accent ) {
		$result['accent'] = '';
	} elseif ( sanitize_hex_color( $accent ) ) {
		$result['accent'] = sanitize_hex_color( $accent );
	} else {
		/* translators: %s: the value entered. */
		add_settings_error( BOOKING_WIDGET_OPTION, 'accent', sprintf( __( 'Accent colour: "%s" is not a colour like #2f5d50; the previous colour is kept.', 'booking-widget' ), $accent ) );
	}

	$types                   = isset( $input['comment_types'] ) && is_array( $input['comment_types'] ) ? array_map( 'strval', $input['comment_types'] ) : array();
	$result['comment_types'] = array_values( array_intersect( $types, array_keys( booking_widget_commentable_types() ) ) );

	$done = $result;
	return $result;
}

/**
 * Return why this service address cannot be used, or '' when it can.
 *
 * @param string $url The address entered.
 * @return string
 */
function booking_widget_url_problem( $url ) {
	$parts = wp_parse_url( $url );
	if ( ! is_array( $parts ) || empty( $parts['scheme'] ) || empty( $parts['host'] ) || ! in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true ) ) {
		/* translators: %s: the value entered. */
		return sprintf( __( 'Service address: "%s" is not a web address like https://booking.example.com; the previous address is kept.', 'booking-widget' ), $url );
	}
	if ( isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
		return __( 'Service address: give the address without "?" or "#" parts; the previous address is kept.', 'booking-widget' );
	}
	if ( 'http' === strtolower( $parts['scheme'] ) && ! booking_widget_http_allowed( strtolower( $parts['host'] ) ) ) {
		return __( 'Service address: use https:// (plain http is only accepted on this computer or on a development site); the previous address is kept.', 'booking-widget' );
	}
	return '';
}

/**
 * Return a warning when the service does not answer its health check, or '' when it does.
 *
 * @param string $url The service's address.
 * @return string
 */
function booking_widget_reachability_problem( $url ) {
	$response = wp_remote_get(
		$url . '/healthz',
		array(
			'timeout'     => 5,
			'redirection' => 0,
		)
	);
	if ( is_wp_error( $response ) ) {
		/* translators: 1: the service's address, 2: the error. */
		return sprintf( __( 'Saved, but %1$s did not answer (%2$s). Check the address and that the service is running; until then the widget and the comments do not show.', 'booking-widget' ), $url, $response->get_error_message() );
	}
	$body = json_decode( wp_remote_retrieve_body( $response ), true );
	if ( ! is_array( $body ) || ! isset( $body['status'] ) ) {
		/* translators: 1: the service's address, 2: the HTTP status. */
		return sprintf( __( 'Saved, but %1$s answered HTTP %2$d without the booking service\'s health report: is this the right address?', 'booking-widget' ), $url, (int) wp_remote_retrieve_response_code( $response ) );
	}
	return '';
}

/**
 * Return the public post types that take comments (name => label).
 *
 * @return array<string, string>
 */
function booking_widget_commentable_types() {
	$types = array();
	foreach ( get_post_types( array( 'public' => true ), 'objects' ) as $name => $type ) {
		if ( post_type_supports( $name, 'comments' ) ) {
			$types[ $name ] = $type->labels->name;
		}
	}
	return $types;
}

/**
 * Show the settings page: the form and the guide to the service's EMBED_ALLOWED_ORIGINS.
 */
function booking_widget_settings_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$options = booking_widget_options();
	$name    = BOOKING_WIDGET_OPTION;
	?>
	<div class="wrap">
		<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
		<form action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" method="post">
			<?php settings_fields( 'booking_widget' ); ?>
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><label for="booking-widget-service-url"><?php esc_html_e( 'Service address', 'booking-widget' ); ?></label></th>
					<td>
						<input type="url" class="regular-text code" id="booking-widget-service-url" name="<?php echo esc_attr( $name ); ?>[service_url]" value="<?php echo esc_attr( $options['service_url'] ); ?>" placeholder="https://booking.example.com">
						<p class="description"><?php esc_html_e( 'Where the booking service runs (https). It is checked when you save.', 'booking-widget' ); ?></p>
					</td>
				</tr>
				<tr>
					<th scope="row"><label for="booking-widget-accent"><?php esc_html_e( 'Accent colour', 'booking-widget' ); ?></label></th>
					<td>
						<input type="text" class="small-text code" id="booking-widget-accent" name="<?php echo esc_attr( $name ); ?>[accent]" value="<?php echo esc_attr( $options['accent'] ); ?>" placeholder="#2f5d50">
						<p class="description"><?php esc_html_e( 'Buttons and links of the widget and the comments, like #2f5d50. A block or shortcode may set its own.', 'booking-widget' ); ?></p>
					</td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Replace WordPress comments', 'booking-widget' ); ?></th>
					<td>
						<fieldset>
							<?php foreach ( booking_widget_commentable_types() as $type => $label ) : ?>
								<label>
									<input type="checkbox" name="<?php echo esc_attr( $name ); ?>[comment_types][]" value="<?php echo esc_attr( $type ); ?>" <?php checked( in_array( $type, $options['comment_types'], true ) ); ?>>
									<?php echo esc_html( $label ); ?>
								</label><br>
							<?php endforeach; ?>
							<p class="description"><?php esc_html_e( 'These show the service\'s comments thread instead of WordPress\'s form, and the theme\'s comment counts come from the service.', 'booking-widget' ); ?></p>
						</fieldset>
					</td>
				</tr>
			</table>
			<?php submit_button(); ?>
		</form>
		<h2><?php esc_html_e( 'On the service', 'booking-widget' ); ?></h2>
		<p>
			<?php esc_html_e( 'The service shows the widget and the comments only on sites it knows. Add this blog\'s address to its EMBED_ALLOWED_ORIGINS setting (space-separated, beside any others):', 'booking-widget' ); ?>
		</p>
		<p><code>EMBED_ALLOWED_ORIGINS="<?php echo esc_html( booking_widget_blog_origin() ); ?>"</code></p>
		<p>
			<?php esc_html_e( 'Threads belong to each post\'s permalink without its query: choose a permalink structure other than "Plain" (Settings → Permalinks). Move the existing comments with the service\'s import-wordpress command (Tools → Export → All content gives the file).', 'booking-widget' ); ?>
		</p>
		<?php if ( '' === get_option( 'permalink_structure' ) ) : ?>
			<div class="notice notice-warning inline"><p><?php esc_html_e( 'This blog uses plain permalinks (?p=123): every post would share one thread. Choose another structure before turning the comments on.', 'booking-widget' ); ?></p></div>
		<?php endif; ?>
		<h2><?php esc_html_e( 'In posts', 'booking-widget' ); ?></h2>
		<p><?php esc_html_e( 'Add the "Booking widget" block, or the shortcode:', 'booking-widget' ); ?></p>
		<p><code>[booking_widget service="massage-60" mode="popup" button="Book now" accent="#2f5d50" title="Book a massage"]</code></p>
	</div>
	<?php
}
