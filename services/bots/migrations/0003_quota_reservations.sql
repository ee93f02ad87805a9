CREATE TABLE "bots"."quota_reservations" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"day" date NOT NULL,
	"tokens" bigint NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "quota_reservations_user_day_idx" ON "bots"."quota_reservations" USING btree ("user_id","day");