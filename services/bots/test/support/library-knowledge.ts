import type { SourceDocument } from '../../src/knowledge/passages.ts';

/** A small help desk of our own: a fictional town library. */
export const LIBRARY_DOCUMENTS: SourceDocument[] = [
  {
    id: 'doc_hours',
    title: 'Opening hours',
    content: `The library is open Monday to Friday from 9 am to 8 pm and on Saturdays from 10 am to 4 pm. It is closed on Sundays and public holidays.`,
  },
  {
    id: 'doc_card',
    title: 'Library card',
    content: `To get a library card, bring a photo ID and a proof of address to the front desk. Cards are free for residents and renew automatically every two years.

A lost card can be replaced at the front desk for a fee of 2 euros.`,
  },
  {
    id: 'doc_loans',
    title: 'Borrowing and renewals',
    content: `You may borrow up to 15 items at a time. Books are lent for three weeks, films for one week.

Loans can be renewed twice online or by phone unless another reader has reserved the item. Late returns cost 20 cents per day and item.`,
  },
  {
    id: 'doc_wifi',
    title: 'Wi-Fi and computers',
    content: `Free wireless internet is available throughout the building; the network name is Larkspur-Guest and no password is needed. Public computers can be booked for one hour per day.`,
  },
  {
    id: 'doc_printing',
    title: 'Printing and copying',
    content: `Printing costs 10 cents per black-and-white page and 50 cents per colour page. Pay at the self-service kiosk next to the printers with coins or your library card.`,
  },
];
