CREATE SCHEMA "bots";
--> statement-breakpoint
CREATE TABLE "bots"."bots" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"kind" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"api_key_sealed" text,
	"knowledge_version" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bots"."commands" (
	"bot_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"reply" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "commands_bot_id_name_pk" PRIMARY KEY("bot_id","name")
);
--> statement-breakpoint
CREATE TABLE "bots"."context_resets" (
	"conversation_id" text PRIMARY KEY NOT NULL,
	"after_seq" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bots"."dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"error" text NOT NULL,
	"attempts" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bots"."knowledge_documents" (
	"id" text PRIMARY KEY NOT NULL,
	"bot_id" text NOT NULL,
	"title" text NOT NULL,
	"content" text NOT NULL,
	"passages" integer NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bots"."outbox" (
	"position" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "bots"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "bots"."replies" (
	"trigger_message_id" text PRIMARY KEY NOT NULL,
	"conversation_id" text NOT NULL,
	"trigger_seq" integer NOT NULL,
	"bot_id" text NOT NULL,
	"user_id" text NOT NULL,
	"state" text NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"lease_until" timestamp with time zone NOT NULL,
	"outcome" text,
	"reply_message_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bots"."seeds" (
	"name" text PRIMARY KEY NOT NULL,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bots"."transcript" (
	"conversation_id" text NOT NULL,
	"seq" integer NOT NULL,
	"message_id" text NOT NULL,
	"sender_type" text NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "transcript_conversation_id_seq_pk" PRIMARY KEY("conversation_id","seq")
);
--> statement-breakpoint
CREATE TABLE "bots"."usage" (
	"day" date NOT NULL,
	"user_id" text NOT NULL,
	"bot_id" text NOT NULL,
	"model" text NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_day_user_id_bot_id_model_pk" PRIMARY KEY("day","user_id","bot_id","model")
);
--> statement-breakpoint
ALTER TABLE "bots"."commands" ADD CONSTRAINT "commands_bot_id_bots_id_fk" FOREIGN KEY ("bot_id") REFERENCES "bots"."bots"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bots"."knowledge_documents" ADD CONSTRAINT "knowledge_documents_bot_id_bots_id_fk" FOREIGN KEY ("bot_id") REFERENCES "bots"."bots"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "bots_name_idx" ON "bots"."bots" USING btree (lower("name"));--> statement-breakpoint
CREATE INDEX "bots_created_idx" ON "bots"."bots" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "knowledge_bot_idx" ON "bots"."knowledge_documents" USING btree ("bot_id","created_at","id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "bots"."outbox" USING btree ("position") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "replies_lease_idx" ON "bots"."replies" USING btree ("lease_until") WHERE state = 'running';--> statement-breakpoint
CREATE INDEX "usage_user_day_idx" ON "bots"."usage" USING btree ("user_id","day");