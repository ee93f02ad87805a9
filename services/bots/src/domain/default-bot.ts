import type { SourceDocument } from '../knowledge/passages.ts';

/**
 * The bot every fresh install has, so a newcomer can talk to something one minute after `npm start`. Its
 * id is fixed so that several processes starting together create it once, and so a deployment can name it
 * as the support bot before anyone has looked it up.
 */
export const DEFAULT_BOT_ID = 'bot_00000000000000000000000001';
export const DEFAULT_BOT_NAME = 'Parley Assistant';
export const DEFAULT_BOT_DESCRIPTION =
  'Answers questions about Parley: conversations, bots, commands and how to reach a person.';

type Seed = Omit<SourceDocument, 'id'>;

export const DEFAULT_KNOWLEDGE: readonly Seed[] = [
  {
    title: 'What Parley is',
    content: `Parley is an open-source chat platform. You can chat with other people, talk to bots, and reach the support team when a bot cannot help.

Everything you write is kept in conversations. Each conversation has a history of messages that you can scroll back through, search, and read on any device you sign in from.`,
  },
  {
    title: 'Conversations',
    content: `To start a new conversation, open the conversation list and choose the kind you want: a direct conversation with one other person, a group conversation with several people, a bot conversation with one bot, or a support conversation with the team.

A direct conversation is private between two people. Starting a second direct conversation with the same person opens the one you already have.

A group conversation has an owner who can add and remove members and rename the group. Anyone can leave a group.

You can end a conversation when you are done. An ended (closed) conversation keeps its history, but nobody can write in it any more.`,
  },
  {
    title: 'Messages',
    content: `Type a message and press Enter to send it. You can edit or delete your own messages afterwards; a deleted message leaves a short note that it was deleted.

You can attach images and files to a message. Read receipts show who has read a message, and typing indicators show who is writing right now.

If your connection drops, Parley catches up as soon as you are back online: no message is lost and none is shown twice.`,
  },
  {
    title: 'Talking to bots',
    content: `Bots answer in bot conversations and in support conversations. You will see a bot's reply appear word by word while it is being written, then it stays in the conversation like any other message.

Some bots answer from a knowledge base written by your administrators, like this one; others use a large language model. When a bot does not know the answer it says so and offers to bring in a person.

Administrators add, configure and remove bots. Developers can also call any bot through an OpenAI-compatible API at /api/v1/openai with a Parley access token or a personal API key.`,
  },
  {
    title: 'Commands',
    content: `Every bot understands three slash commands; type one as a message on its own:
/help lists the commands the bot knows, including any extra commands your administrators added.
/reset makes the bot forget the conversation so far and start fresh. Your messages stay in the history; the bot just stops using them as context.
/human hands the conversation over to a person from the support team.`,
  },
  {
    title: 'Reaching a human',
    content: `To talk to a human, type /human, or simply write that you want to talk to a person, an agent or someone from support. The bot then hands the conversation over to the support team.

After a handoff the conversation waits for an agent (its status is pending) and the bot stays quiet. An agent picks it up and answers you in the same conversation.

Once your question is resolved, the bot answers again the next time you write.`,
  },
  {
    title: 'Support conversations',
    content: `A support conversation is your line to the team. It is answered first by the support bot. If the bot cannot help, or if no support bot is set up, the conversation waits in the queue until an agent takes it.

Support agents see your support and bot conversations, never your private direct or group conversations. They can leave private notes for each other that you do not see.`,
  },
  {
    title: 'Your account',
    content: `You sign in with your email address and password. If you forget your password, use the reset link on the sign-in page and follow the email we send you.

You can change your display name, avatar and bio in your profile, see the devices you are signed in on, and sign out of any of them. You can block someone so they cannot message you.

Personal API keys let scripts and integrations act as you. Create them in your account settings; a key is shown only once.`,
  },
];
