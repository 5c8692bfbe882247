//! Endpoint presets: `"preset": "slack" | "teams" | "pagerduty" | "opsgenie" | "panther"` in an endpoint's
//! input fills method, URL (where the service has one), headers, content type and body templates in that
//! service's documented request format. The preset is expanded into ordinary endpoint fields before
//! validation, so what is stored is a plain endpoint the user can read and edit; every field the user sends
//! overrides the preset's (`headers` per header name, `message_types` per message type).
//!
//! The formats, from each service's documentation:
//! - Slack incoming webhook with Block Kit blocks: <https://api.slack.com/messaging/webhooks>,
//!   <https://api.slack.com/reference/block-kit/blocks> (header text ≤ 150, section text ≤ 3,000).
//! - Microsoft Teams, an Adaptive Card message as the Workflows "when a Teams webhook request is received"
//!   trigger takes it: <https://learn.microsoft.com/en-us/connectors/teams/#microsoft-teams-webhook>,
//!   <https://adaptivecards.io/explorer/AdaptiveCard.html>, <https://adaptivecards.io/explorer/RichTextBlock.html>.
//!
//! Alert text is data, never markup: where a service reads a field as markup (Slack's `text` is mrkdwn, a
//! Teams `TextBlock` is Markdown), the alert's text goes in escaped or in a field the service does not parse.
//! - PagerDuty Events API v2: <https://developer.pagerduty.com/docs/send-alert-event> (trigger) and
//!   <https://developer.pagerduty.com/docs/send-resolve-event> (resolve).
//! - Opsgenie Alert API: <https://docs.opsgenie.com/docs/alert-api#create-alert> and
//!   <https://docs.opsgenie.com/docs/alert-api#close-alert> (`message` ≤ 130, `source` ≤ 100).
//! - Panther's Custom Webhook alert payload: <https://docs.panther.com/alerts/destinations/custom_webhook>.
//!
//! Presets also set the rate limit a service documents for one webhook, as `rate_limit_per_second`:
//! - Slack: about one message per second per incoming webhook, with short bursts tolerated
//!   (<https://api.slack.com/docs/rate-limits>);
//! - Microsoft Teams: four requests per second per webhook before throttling
//!   (<https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors>);
//! - PagerDuty Events API v2: 120 events per minute per integration key
//!   (<https://developer.pagerduty.com/docs/events-api-v2-overview#api-limits>).
//!
//! Opsgenie's limits depend on the customer's plan and Panther documents none, so theirs are unset.
//!
//! PagerDuty's routing key and Opsgenie's API key are the endpoint's `verification_token`: stored like a
//! secret, masked in every answer, and scrubbed from echoed responses.

use serde_json::{Map, Value, json};

use crate::endpoint::{Endpoint, MASK};
use crate::input_error::{FieldError, FieldErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Slack,
    Teams,
    PagerDuty,
    Opsgenie,
    Panther,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Self::Slack,
        Self::Teams,
        Self::PagerDuty,
        Self::Opsgenie,
        Self::Panther,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::PagerDuty => "pagerduty",
            Self::Opsgenie => "opsgenie",
            Self::Panther => "panther",
        }
    }

    pub fn parse(text: &str) -> Option<Preset> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }

    /// The service's name as people write it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Slack => "Slack",
            Self::Teams => "Microsoft Teams",
            Self::PagerDuty => "PagerDuty",
            Self::Opsgenie => "Opsgenie",
            Self::Panther => "Panther",
        }
    }

    /// The fields the preset fills before the user gives a URL or credential (what an editor shows).
    pub fn default_fields(self) -> Map<String, Value> {
        self.fields(None, None)
    }

    /// The service's own URL, when it has one the same for everybody.
    fn default_url(self) -> Option<&'static str> {
        match self {
            Self::PagerDuty => Some("https://events.pagerduty.com/v2/enqueue"),
            Self::Opsgenie => Some("https://api.opsgenie.com/v2/alerts"),
            Self::Slack | Self::Teams | Self::Panther => None,
        }
    }

    /// Attempts per second the service accepts on one webhook, where it documents a limit.
    fn rate_limit_per_second(self) -> Option<f64> {
        match self {
            Self::Slack => Some(1.0),
            Self::Teams => Some(4.0),
            Self::PagerDuty => Some(2.0),
            Self::Opsgenie | Self::Panther => None,
        }
    }

    /// The digest's template in the service's format: what `digest` renders when the user opts in
    /// without a template of their own.
    pub fn digest_body(self) -> &'static str {
        match self {
            Self::Slack => SLACK_DIGEST_BODY,
            Self::Teams => TEAMS_DIGEST_BODY,
            Self::PagerDuty => PAGERDUTY_DIGEST_BODY,
            Self::Opsgenie => OPSGENIE_DIGEST_BODY,
            Self::Panther => PANTHER_DIGEST_BODY,
        }
    }

    /// The endpoint fields the preset fills, as a user would send them. `url` is the URL the endpoint will
    /// use; `credential` the verification token, if any.
    fn fields(self, url: Option<&str>, credential: Option<&str>) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("method".into(), json!("POST"));
        fields.insert("content_type".into(), json!("application/json"));
        if let Some(url) = self.default_url() {
            fields.insert("url".into(), json!(url));
        }
        if let Some(rate) = self.rate_limit_per_second() {
            fields.insert("rate_limit_per_second".into(), json!(rate));
        }
        match self {
            Self::Slack => {
                fields.insert("body".into(), json!(SLACK_BODY));
            }
            Self::Teams => {
                fields.insert("body".into(), json!(TEAMS_BODY));
            }
            Self::Panther => {
                fields.insert("body".into(), json!(PANTHER_BODY));
            }
            Self::PagerDuty => {
                fields.insert("body".into(), json!(PAGERDUTY_TRIGGER_BODY));
                fields.insert(
                    "message_types".into(),
                    json!({"ok": {"body": PAGERDUTY_RESOLVE_BODY}}),
                );
                // The trigger's answer names the alert's dedup_key: the resolve waits for the trigger and
                // resolves what PagerDuty answered.
                fields.insert("captures".into(), json!({"dedup_key": "$.dedup_key"}));
            }
            Self::Opsgenie => {
                fields.insert("body".into(), json!(OPSGENIE_CREATE_BODY));
                if let Some(key) = credential {
                    fields.insert(
                        "headers".into(),
                        json!({"Authorization": {"value": format!("GenieKey {key}"), "secret": true}}),
                    );
                }
                let alerts_url = url.or(self.default_url()).unwrap_or_default();
                fields.insert(
                    "message_types".into(),
                    json!({"ok": {
                        "url": format!("{}/{OPSGENIE_CLOSE_PATH}", alerts_url.trim_end_matches('/')),
                        "body": OPSGENIE_CLOSE_BODY,
                    }}),
                );
            }
        }
        fields
    }
}

/// The endpoint input with its preset expanded: the preset's fields, overridden by the user's. An input
/// without `preset` is returned as it is. `previous` resolves a masked verification token on replace.
pub fn expand(input: &Value, previous: Option<&Endpoint>) -> Result<Value, FieldError> {
    let Some(object) = input.as_object() else {
        return Ok(input.clone());
    };
    let Some(requested) = object.get("preset") else {
        return Ok(input.clone());
    };
    let preset = requested.as_str().and_then(Preset::parse).ok_or_else(|| {
        FieldError::invalid(
            "preset",
            "`preset` must be one of slack, teams, pagerduty, opsgenie, panther",
        )
    })?;
    let credential = match object.get("verification_token").and_then(Value::as_str) {
        Some(MASK) => previous.and_then(|p| p.verification_token.as_deref()),
        Some(token) if !token.trim().is_empty() => Some(token),
        _ => None,
    };
    let user_sets_authorization = object
        .get("headers")
        .and_then(Value::as_object)
        .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("authorization")));
    match preset {
        Preset::PagerDuty if credential.is_none() => {
            return Err(FieldError::new(
                FieldErrorKind::Missing,
                "verification_token",
                "the pagerduty preset sends the integration's routing key from `verification_token`; set it",
            ));
        }
        Preset::Opsgenie if credential.is_none() && !user_sets_authorization => {
            return Err(FieldError::new(
                FieldErrorKind::Missing,
                "verification_token",
                "the opsgenie preset sends `Authorization: GenieKey <verification_token>`; set `verification_token` to the API integration's key",
            ));
        }
        _ => {}
    }
    let url = object.get("url").and_then(Value::as_str);
    let mut merged = preset.fields(url, credential);
    for (name, value) in object {
        if name == "preset" {
            continue;
        }
        match (merged.get_mut(name), value) {
            (Some(Value::Object(ours)), Value::Object(theirs)) if name == "headers" => {
                ours.retain(|header, _| !theirs.keys().any(|t| t.eq_ignore_ascii_case(header)));
                ours.extend(theirs.clone());
            }
            (Some(Value::Object(ours)), Value::Object(theirs)) if name == "message_types" => {
                ours.extend(theirs.clone());
            }
            (None, Value::Object(theirs)) if name == "digest" && !theirs.contains_key("body") => {
                let mut digest = theirs.clone();
                digest.insert("body".into(), json!(preset.digest_body()));
                merged.insert(name.clone(), Value::Object(digest));
            }
            _ => {
                merged.insert(name.clone(), value.clone());
            }
        }
    }
    Ok(Value::Object(merged))
}

/// Slack: plain-text blocks (Slack parses no mentions or links in them), and `text` for notifications, which
/// Slack reads as mrkdwn: the title goes in through `@SlackEncode`, so that it cannot mention
/// (`<!channel>`) nor write a link under other words (`<https://…|click>`).
const SLACK_BODY: &str = r#"{
  "text": "{{alert_severity_img}}: {{#is_ok}}resolved: {{/is_ok}}{{@SlackEncode(alert_title_short)}}",
  "blocks": [
    {
      "type": "header",
      "text": {"type": "plain_text", "text": "{{#is_ok}}Resolved: {{/is_ok}}{{alert_title_short}}", "emoji": true}
    },
    {
      "type": "section",
      "text": {"type": "plain_text", "text": "{{alert_description_short}}{{^alert_description}}No description.{{/alert_description}}", "emoji": false}
    },
    {
      "type": "context",
      "elements": [
        {"type": "plain_text", "text": "Severity: {{alert_severity}} | {{message_type}}{{#alert_source}} | {{alert_source}}{{/alert_source}}{{#alert_app_url}} | {{alert_app_url}}{{/alert_app_url}}", "emoji": false}
      ]
    }
  ]
}"#;

/// Teams: alert text only in `RichTextBlock` text runs, which Adaptive Cards never read as Markdown
/// (<https://learn.microsoft.com/en-us/adaptive-cards/authoring-cards/text-features>); a `TextBlock` or a
/// fact would turn `[click](https://…)` in an alert's title into a disguised link.
const TEAMS_BODY: &str = r#"{
  "type": "message",
  "attachments": [
    {
      "contentType": "application/vnd.microsoft.card.adaptive",
      "contentUrl": null,
      "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
          {
            "type": "RichTextBlock",
            "inlines": [
              {
                "type": "TextRun",
                "size": "Large",
                "weight": "Bolder",
                "color": "{{#is_ok}}Good{{/is_ok}}{{^is_ok}}Attention{{/is_ok}}",
                "text": "{{#is_ok}}Resolved: {{/is_ok}}{{alert_title}}"
              }
            ]
          },
          {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": "{{alert_description_short}}{{^alert_description}}No description.{{/alert_description}}"}]
          },
          {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "weight": "Bolder", "text": "Severity: "}, {"type": "TextRun", "text": "{{alert_severity}}"}]
          },
          {
            "type": "RichTextBlock",
            "spacing": "None",
            "inlines": [{"type": "TextRun", "weight": "Bolder", "text": "Message: "}, {"type": "TextRun", "text": "{{message_type}}"}]
          },
          {
            "type": "RichTextBlock",
            "spacing": "None",
            "inlines": [{"type": "TextRun", "weight": "Bolder", "text": "Source: "}, {"type": "TextRun", "text": "{{alert_source}}"}]
          },
          {
            "type": "RichTextBlock",
            "spacing": "None",
            "inlines": [{"type": "TextRun", "weight": "Bolder", "text": "Tags: "}, {"type": "TextRun", "text": "{{alert_tags}}"}]
          },
          {
            "type": "RichTextBlock",
            "spacing": "None",
            "inlines": [{"type": "TextRun", "weight": "Bolder", "text": "Incident: "}, {"type": "TextRun", "text": "{{incident_key}}"}]
          }
        ],
        "actions": [{{#alert_app_url}}{"type": "Action.OpenUrl", "title": "Open the alert", "url": "{{alert_app_url}}"}{{/alert_app_url}}]
      }
    }
  ]
}"#;

/// PagerDuty severities are critical, error, warning, info: high is error, medium and low are warning.
/// `dedup_key` takes at most 255 characters, `summary` 1,024 (a title has at most 1,000).
const PAGERDUTY_TRIGGER_BODY: &str = r#"{
  "routing_key": "{{verification_token}}",
  "event_action": "trigger",
  "dedup_key": "{{dedup_key}}",
  "payload": {
    "summary": "{{alert_title}}",
    "source": "{{alert_source}}{{^alert_source}}alertwire{{/alert_source}}",
    "severity": "{{#is_critical}}critical{{/is_critical}}{{#is_high}}error{{/is_high}}{{#is_medium}}warning{{/is_medium}}{{#is_low}}warning{{/is_low}}{{#is_info}}info{{/is_info}}",
    "timestamp": "{{alert_received_at}}",
    "custom_details": {
      "description": "{{alert_description}}",
      "severity": "{{alert_severity}}",
      "message_type": "{{message_type}}",
      "tags": {{alert_tags_json}},
      "context": {{alert_context_json}}
    }
  },
  "client": "alertwire",
  "links": [{{#alert_app_url}}{"href": "{{alert_app_url}}", "text": "Open the alert"}{{/alert_app_url}}]
}"#;

/// The dedup_key PagerDuty answered the trigger with (`captured.dedup_key`), else the one alertwire sent.
const PAGERDUTY_RESOLVE_BODY: &str = r#"{
  "routing_key": "{{verification_token}}",
  "event_action": "resolve",
  "dedup_key": "{{captured.dedup_key}}{{^captured.dedup_key}}{{dedup_key}}{{/captured.dedup_key}}"
}"#;

/// Opsgenie priorities P1 (critical) to P5 (info); `alias` (at most 512 characters) pairs the close with
/// the create.
const OPSGENIE_CREATE_BODY: &str = r#"{
  "message": "{{alert_title_short}}",
  "alias": "{{dedup_key}}",
  "description": "{{alert_description_short}}",
  "priority": "{{#is_critical}}P1{{/is_critical}}{{#is_high}}P2{{/is_high}}{{#is_medium}}P3{{/is_medium}}{{#is_low}}P4{{/is_low}}{{#is_info}}P5{{/is_info}}",
  "source": "alertwire",
  "details": {
    "severity": "{{alert_severity}}",
    "source": "{{alert_source}}",
    "link": "{{alert_app_url}}",
    "alertwire_alert_id": "{{alert_event_id}}"
  }
}"#;

const OPSGENIE_CLOSE_PATH: &str = "{{dedup_key}}/close?identifierType=alias";

const OPSGENIE_CLOSE_BODY: &str = r#"{
  "source": "alertwire",
  "note": "Resolved: {{alert_title_short}}"
}"#;

/// Panther's field names and values: `severity` in capitals (INFO … CRITICAL), `type` RULE, `alertContext`
/// an object. `id` is the incident key (Panther's detection id), `version` is left empty: alertwire has no
/// detection versions.
const PANTHER_BODY: &str = r#"{
  "id": "{{incident_key}}{{^incident_key}}{{alert_event_id}}{{/incident_key}}",
  "createdAt": "{{alert_received_at}}",
  "severity": "{{alert_severity_img}}",
  "type": "RULE",
  "link": "{{alert_app_url}}",
  "title": "{{#is_ok}}Resolved: {{/is_ok}}{{alert_title}}",
  "name": "{{alert_title}}",
  "alertId": "{{alert_event_id}}",
  "alertContext": {{alert_context_json}},
  "description": "{{alert_description}}",
  "runbook": "{{alert_context.runbook}}",
  "tags": {{alert_tags_json}},
  "version": ""
}"#;

/// Slack: the count and the window in the header and a section, each folded alert a line of the
/// section in plain text (at most 100 lines of short titles, within a section's 3,000 characters only
/// when titles are short: Slack cuts what is longer).
const SLACK_DIGEST_BODY: &str = r#"{
  "text": "{{digest_count}} more alerts during a storm at {{@SlackEncode(endpoint_name)}}",
  "blocks": [
    {
      "type": "header",
      "text": {"type": "plain_text", "text": "Storm: {{digest_count}} more alerts", "emoji": true}
    },
    {
      "type": "section",
      "text": {"type": "plain_text", "text": "{{#digest_alerts}}{{severity}}: {{title_short}}\n{{/digest_alerts}}", "emoji": false}
    },
    {
      "type": "context",
      "elements": [
        {"type": "plain_text", "text": "From {{digest_window_start}} to {{digest_window_end}}, after the first ones were sent one by one. {{digest_listed}} of {{digest_count}} listed.", "emoji": false}
      ]
    }
  ]
}"#;

/// Teams: the digest as an Adaptive Card, each folded alert a text run of its own.
const TEAMS_DIGEST_BODY: &str = r#"{
  "type": "message",
  "attachments": [
    {
      "contentType": "application/vnd.microsoft.card.adaptive",
      "contentUrl": null,
      "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
          {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "size": "Large", "weight": "Bolder", "color": "Attention", "text": "Storm: {{digest_count}} more alerts"}]
          },
          {
            "type": "RichTextBlock",
            "inlines": [{"type": "TextRun", "text": "From {{digest_window_start}} to {{digest_window_end}}; {{digest_listed}} of {{digest_count}} listed."}]
          },
          {
            "type": "RichTextBlock",
            "inlines": [{{#digest_alerts}}{"type": "TextRun", "text": "{{severity}}: {{title_short}}\n"},{{/digest_alerts}}{"type": "TextRun", "text": ""}]
          }
        ]
      }
    }
  ]
}"#;

/// PagerDuty: one trigger for the whole digest, under a dedup key of its own.
const PAGERDUTY_DIGEST_BODY: &str = r#"{
  "routing_key": "{{verification_token}}",
  "event_action": "trigger",
  "dedup_key": "alertwire-digest-{{delivery_id}}",
  "payload": {
    "summary": "Storm: {{digest_count}} more alerts at {{endpoint_name}}",
    "source": "alertwire",
    "severity": "error",
    "timestamp": "{{digest_window_end}}",
    "custom_details": {
      "count": {{digest_count}},
      "window_start": "{{digest_window_start}}",
      "window_end": "{{digest_window_end}}",
      "alerts": {{digest_alerts_json}}
    }
  },
  "client": "alertwire"
}"#;

/// Opsgenie: one alert for the whole digest, the folded titles in its description.
const OPSGENIE_DIGEST_BODY: &str = r#"{
  "message": "Storm: {{digest_count}} more alerts",
  "alias": "alertwire-digest-{{delivery_id}}",
  "description": "{{#digest_alerts}}{{severity}}: {{title_short}}\n{{/digest_alerts}}",
  "priority": "P2",
  "source": "alertwire",
  "details": {
    "count": "{{digest_count}}",
    "window_start": "{{digest_window_start}}",
    "window_end": "{{digest_window_end}}"
  }
}"#;

/// Panther's payload, the folded alerts in `alertContext`.
const PANTHER_DIGEST_BODY: &str = r#"{
  "id": "alertwire-digest-{{delivery_id}}",
  "createdAt": "{{digest_window_end}}",
  "severity": "HIGH",
  "type": "RULE",
  "link": "",
  "title": "Storm: {{digest_count}} more alerts",
  "name": "alertwire digest",
  "alertId": "{{delivery_id}}",
  "alertContext": {"count": {{digest_count}}, "window_start": "{{digest_window_start}}", "window_end": "{{digest_window_end}}", "alerts": {{digest_alerts_json}}},
  "description": "{{digest_count}} alerts were folded into this digest.",
  "runbook": "",
  "tags": [],
  "version": ""
}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_fields_override_the_presets() {
        let input = json!({
            "preset": "opsgenie", "name": "ops", "verification_token": "key-1",
            "headers": {"authorization": "GenieKey other", "X-Team": "db"},
            "message_types": {"reminder": null}
        });
        let expanded = expand(&input, None).unwrap();
        assert_eq!(expanded["url"], "https://api.opsgenie.com/v2/alerts");
        assert!(expanded.get("preset").is_none());
        let headers = expanded["headers"].as_object().unwrap();
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(headers["authorization"], "GenieKey other");
        assert_eq!(expanded["message_types"]["reminder"], Value::Null);
        assert_eq!(
            expanded["message_types"]["ok"]["url"],
            "https://api.opsgenie.com/v2/alerts/{{dedup_key}}/close?identifierType=alias"
        );
    }

    #[test]
    fn presets_set_the_documented_rate_limit_and_the_user_may_change_it() {
        let slack = json!({"preset": "slack", "name": "s", "url": "https://hooks.slack.com/x"});
        assert_eq!(expand(&slack, None).unwrap()["rate_limit_per_second"], 1.0);
        let faster = json!({"preset": "slack", "name": "s", "url": "https://hooks.slack.com/x",
            "rate_limit_per_second": 3});
        assert_eq!(expand(&faster, None).unwrap()["rate_limit_per_second"], 3);
        let panther =
            json!({"preset": "panther", "name": "p", "url": "https://panther.example.com/"});
        assert!(
            expand(&panther, None)
                .unwrap()
                .get("rate_limit_per_second")
                .is_none()
        );
    }

    #[test]
    fn a_digest_without_a_template_gets_the_presets() {
        let input = json!({"preset": "slack", "name": "s", "url": "https://hooks.slack.com/x",
            "digest": {"after": 20, "window_seconds": 60}});
        let expanded = expand(&input, None).unwrap();
        assert_eq!(expanded["digest"]["body"], SLACK_DIGEST_BODY);
        assert_eq!(expanded["digest"]["after"], 20);
        let own = json!({"preset": "slack", "name": "s", "url": "https://hooks.slack.com/x",
            "digest": {"after": 20, "window_seconds": 60, "body": "{}"}});
        assert_eq!(expand(&own, None).unwrap()["digest"]["body"], "{}");
    }

    #[test]
    fn an_input_without_a_preset_is_unchanged() {
        let input = json!({"name": "x", "url": "https://example.com/"});
        assert_eq!(expand(&input, None).unwrap(), input);
    }

    #[test]
    fn a_missing_credential_or_unknown_preset_names_the_field() {
        let err = expand(&json!({"preset": "pagerduty", "name": "pd"}), None).unwrap_err();
        assert_eq!(err.field, "verification_token");
        let err = expand(&json!({"preset": "zulip"}), None).unwrap_err();
        assert_eq!(err.field, "preset");
    }
}
