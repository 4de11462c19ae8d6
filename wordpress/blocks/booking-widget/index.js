/* The "Booking widget" block in the editor: plain ES5, no build step. The post saves only the
   attributes; the server renders the widget (render.php), so no script tag is stored. */
(function (blocks, element, blockEditor, components, i18n) {
	"use strict";
	var el = element.createElement;
	var __ = i18n.__;
	var InspectorControls = blockEditor.InspectorControls;
	var useBlockProps = blockEditor.useBlockProps;
	var PanelBody = components.PanelBody;
	var TextControl = components.TextControl;
	var SelectControl = components.SelectControl;
	var Placeholder = components.Placeholder;

	function text(props, name, label, help) {
		return el(TextControl, {
			label: label,
			help: help,
			value: props.attributes[name],
			onChange: function (value) {
				var change = {};
				change[name] = value;
				props.setAttributes(change);
			}
		});
	}

	blocks.registerBlockType("booking-widget/booking-widget", {
		edit: function (props) {
			var attributes = props.attributes;
			var summary = attributes.mode === "popup"
				? __("A button that opens the booking widget", "booking-widget")
				: __("The booking widget, in the page", "booking-widget");
			if (attributes.service) summary += " (" + attributes.service + ")";
			return el(
				"div",
				useBlockProps(),
				el(
					InspectorControls,
					null,
					el(
						PanelBody,
						{ title: __("Booking widget", "booking-widget") },
						el(SelectControl, {
							label: __("Shows", "booking-widget"),
							value: attributes.mode,
							options: [
								{ label: __("The widget, inline", "booking-widget"), value: "inline" },
								{ label: __("A button opening it", "booking-widget"), value: "popup" }
							],
							onChange: function (value) { props.setAttributes({ mode: value }); }
						}),
						text(props, "service", __("Service id", "booking-widget"), __("Skips the choice of service, like massage-60.", "booking-widget")),
						attributes.mode === "popup" ? text(props, "button", __("Button text", "booking-widget"), __("Book now, unless you say otherwise.", "booking-widget")) : null,
						text(props, "accent", __("Accent colour", "booking-widget"), __("Like #2f5d50; empty uses the plugin's setting.", "booking-widget")),
						text(props, "title", __("Title", "booking-widget"), __("Read out by screen readers.", "booking-widget"))
					)
				),
				el(Placeholder, { icon: "calendar-alt", label: __("Booking widget", "booking-widget") }, summary)
			);
		},
		save: function () {
			return null;
		}
	});
}(window.wp.blocks, window.wp.element, window.wp.blockEditor, window.wp.components, window.wp.i18n));
