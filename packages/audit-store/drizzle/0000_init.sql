CREATE TABLE `actions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`target_type` text NOT NULL,
	`target_name` text NOT NULL,
	`connector` text DEFAULT '' NOT NULL,
	`list` text NOT NULL,
	`reason` text,
	`source` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`expires_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `actions_target_unique` ON `actions` (`target_type`,`target_name`,`connector`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ts` integer NOT NULL,
	`event_id` integer NOT NULL,
	`verdict_id` integer,
	`category` text NOT NULL,
	`severity` text NOT NULL,
	`severity_rank` integer NOT NULL,
	`title` text NOT NULL,
	`lane` text,
	`action` text,
	`raw_action` text,
	`mode` text,
	`enforced` integer DEFAULT false NOT NULL,
	`tool` text,
	`session_key` text,
	`rule_ids` text DEFAULT '[]' NOT NULL,
	`acked_at` integer,
	`acked_by` text,
	`ack_note` text,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`verdict_id`) REFERENCES `verdicts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `alerts_open_id_idx` ON `alerts` (`id`) WHERE acked_at IS NULL;--> statement-breakpoint
CREATE INDEX `alerts_severity_rank_id_idx` ON `alerts` (`severity_rank`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_tool_id_idx` ON `alerts` (`tool`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_session_key_id_idx` ON `alerts` (`session_key`,`id`);--> statement-breakpoint
CREATE INDEX `alerts_ts_idx` ON `alerts` (`ts`);--> statement-breakpoint
CREATE INDEX `alerts_event_id_idx` ON `alerts` (`event_id`);--> statement-breakpoint
CREATE INDEX `alerts_verdict_id_idx` ON `alerts` (`verdict_id`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ts` integer NOT NULL,
	`kind` text NOT NULL,
	`source` text NOT NULL,
	`dedupe_key` text,
	`session_key` text,
	`run_id` text,
	`agent_id` text,
	`tool` text,
	`call_id` text,
	`request_id` text,
	`conn_id` text,
	`seq` integer,
	`summary` text,
	`payload` text,
	`payload_bytes` integer,
	`payload_sha256` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_dedupe_key_unique` ON `events` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `events_kind_id_idx` ON `events` (`kind`,`id`);--> statement-breakpoint
CREATE INDEX `events_session_key_id_idx` ON `events` (`session_key`,`id`);--> statement-breakpoint
CREATE INDEX `events_tool_id_idx` ON `events` (`tool`,`id`);--> statement-breakpoint
CREATE INDEX `events_ts_idx` ON `events` (`ts`);--> statement-breakpoint
CREATE TABLE `findings` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`verdict_id` integer NOT NULL,
	`rule_id` text NOT NULL,
	`category` text NOT NULL,
	`title` text NOT NULL,
	`severity` text NOT NULL,
	`severity_rank` integer NOT NULL,
	`confidence` real,
	`target` text,
	`basis` text,
	`detection_only` integer DEFAULT false NOT NULL,
	`snippet` text,
	`location` text,
	`fingerprint` text,
	`tags` text DEFAULT '[]' NOT NULL,
	FOREIGN KEY (`verdict_id`) REFERENCES `verdicts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `findings_verdict_id_idx` ON `findings` (`verdict_id`);--> statement-breakpoint
CREATE INDEX `findings_rule_id_idx` ON `findings` (`rule_id`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `verdicts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` integer NOT NULL,
	`ts` integer NOT NULL,
	`lane` text NOT NULL,
	`action` text NOT NULL,
	`raw_action` text NOT NULL,
	`mode` text NOT NULL,
	`would_block` integer NOT NULL,
	`severity` text,
	`severity_rank` integer DEFAULT 0 NOT NULL,
	`rule_ids` text DEFAULT '[]' NOT NULL,
	`reason` text,
	`profile` text,
	`generation_id` text,
	`enforced` integer DEFAULT false NOT NULL,
	`enforcement` text DEFAULT 'none' NOT NULL,
	`scan_micros` integer,
	`error_code` text,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `verdicts_event_id_lane_unique` ON `verdicts` (`event_id`,`lane`);