<?php
/**
 * Our comments thread in place of WordPress's, and our counts in place of its numbers.
 *
 * @package BookingWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

// How long a post's count, or the news that the service did not answer, is kept (seconds).
define( 'BOOKING_WIDGET_COUNT_SECONDS', 60 );
// How long a page waits for the service's counts before it shows WordPress's own (seconds).
define( 'BOOKING_WIDGET_COUNT_TIMEOUT', 1 );
// The most addresses the service counts in one request.
define( 'BOOKING_WIDGET_COUNT_BATCH', 100 );

/**
 * Use our comments template on posts whose type has its comments replaced.
 *
 * @param string $template The theme's comments template.
 * @return string
 */
function booking_widget_comments_template( $template ) {
	if ( booking_widget_replaces_comments( get_post() ) ) {
		return BOOKING_WIDGET_DIR . '/templates/comments.php';
	}
	return $template;
}

/**
 * Return the published count of our thread for this post, WordPress's own when the service does not answer.
 *
 * @param int|string $count   WordPress's number.
 * @param int        $post_id The post.
 * @return int|string
 */
function booking_widget_comments_number( $count, $post_id ) {
	if ( ! booking_widget_replaces_comments( $post_id ) ) {
		return $count;
	}
	$page   = get_permalink( $post_id );
	$counts = booking_widget_counts( booking_widget_pages_to_count( (int) $post_id ) );
	return isset( $counts[ $page ] ) ? $counts[ $page ] : $count;
}

/**
 * Return the addresses of this post and of every post the page shows whose comments we replace.
 *
 * @param int $post_id The post being counted.
 * @return string[]
 */
function booking_widget_pages_to_count( $post_id ) {
	global $wp_query;
	$posts = array( $post_id );
	if ( $wp_query instanceof WP_Query && is_array( $wp_query->posts ) ) {
		foreach ( $wp_query->posts as $post ) {
			$posts[] = $post instanceof WP_Post ? $post->ID : (int) $post;
		}
	}
	$pages = array();
	foreach ( array_unique( $posts ) as $id ) {
		if ( booking_widget_replaces_comments( $id ) ) {
			$pages[] = get_permalink( $id );
		}
	}
	return array_values( array_unique( array_filter( $pages ) ) );
}

/**
 * Return the known counts of these addresses (address => count), asking the service once for those not cached.
 *
 * @param string[] $pages Post addresses.
 * @return array<string, int>
 */
function booking_widget_counts( array $pages ) {
	static $known = array();
	$missing      = array();
	foreach ( $pages as $page ) {
		if ( array_key_exists( $page, $known ) ) {
			continue;
		}
		$cached = get_transient( booking_widget_count_key( $page ) );
		if ( false !== $cached ) {
			$known[ $page ] = (int) $cached;
		} else {
			$missing[] = $page;
		}
	}
	// A service that did not answer is not asked again for a minute: every page view would wait for it.
	if ( $missing && ! get_transient( 'booking_widget_counts_down' ) ) {
		foreach ( array_chunk( $missing, BOOKING_WIDGET_COUNT_BATCH ) as $batch ) {
			$fetched = booking_widget_fetch_counts( $batch );
			if ( null === $fetched ) {
				set_transient( 'booking_widget_counts_down', 1, BOOKING_WIDGET_COUNT_SECONDS );
				break;
			}
			foreach ( $fetched as $page => $number ) {
				$known[ $page ] = $number;
				set_transient( booking_widget_count_key( $page ), $number, BOOKING_WIDGET_COUNT_SECONDS );
			}
		}
	}
	return $known;
}

/**
 * Return the transient name of one address's count.
 *
 * @param string $page A post address.
 * @return string
 */
function booking_widget_count_key( $page ) {
	return 'booking_widget_count_' . md5( $page );
}

/**
 * Ask the service for the counts of these addresses in one request; null when it does not answer well in time.
 *
 * @param string[] $pages Post addresses.
 * @return array<string, int>|null
 */
function booking_widget_fetch_counts( array $pages ) {
	$query = array();
	foreach ( $pages as $page ) {
		$query[] = 'page=' . rawurlencode( $page );
	}
	$response = wp_remote_get(
		booking_widget_service_url() . '/api/comments/counts?' . implode( '&', $query ),
		array(
			'timeout'     => BOOKING_WIDGET_COUNT_TIMEOUT,
			'redirection' => 0,
			'headers'     => array( 'Accept' => 'application/json' ),
		)
	);
	if ( is_wp_error( $response ) || 200 !== wp_remote_retrieve_response_code( $response ) ) {
		return null;
	}
	$body = json_decode( wp_remote_retrieve_body( $response ), true );
	if ( ! is_array( $body ) ) {
		return null;
	}
	$counts = array();
	foreach ( $pages as $page ) {
		if ( isset( $body[ $page ] ) && is_int( $body[ $page ] ) && $body[ $page ] >= 0 ) {
			$counts[ $page ] = $body[ $page ];
		}
	}
	return $counts;
}
