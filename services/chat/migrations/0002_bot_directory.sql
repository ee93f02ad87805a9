CREATE TABLE "chat"."bots" (
	"id" text PRIMARY KEY NOT NULL,
	"active" boolean NOT NULL,
	"support" boolean NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"changed_at" timestamp (3) with time zone NOT NULL
);
