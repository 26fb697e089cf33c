import { describe, expect, it } from '@jest/globals';
import { checkTemplateParameters } from './template-parameters.js';

const body = (text: string) => ({ type: 'BODY', text });
const text = (value: string) => ({ type: 'text', text: value });

describe('template parameters', () => {
  it('fill positional placeholders in order and render header, body and footer', () => {
    const template = [
      { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
      body('Hi {{1}}, {{2}} is on its way ({{1}}).'),
      { type: 'FOOTER', text: 'Thanks' },
    ];
    const parameters = [
      { type: 'header', parameters: [text('#7')] },
      { type: 'body', parameters: [text('Ada'), text('the parcel')] },
    ];
    expect(checkTemplateParameters(template, parameters)).toEqual({
      ok: true,
      rendered: 'Order #7\n\nHi Ada, the parcel is on its way (Ada).\n\nThanks',
    });
  });

  it("show a currency's or a date's fallback value", () => {
    const parameters = [
      {
        type: 'body',
        parameters: [
          { type: 'currency', currency: { fallback_value: '$10.00', code: 'USD', amount_1000: 10000 } },
          { type: 'date_time', date_time: { fallback_value: 'May 1' } },
        ],
      },
    ];
    expect(checkTemplateParameters([body('You owe {{1}} by {{2}}.')], parameters)).toEqual({
      ok: true,
      rendered: 'You owe $10.00 by May 1.',
    });
  });

  it('name every missing, surplus or unknown parameter', () => {
    const template = [
      { type: 'HEADER', format: 'DOCUMENT' },
      body('Hi {{name}}'),
      {
        type: 'BUTTONS',
        buttons: [
          { type: 'QUICK_REPLY', text: 'Stop' },
          { type: 'COPY_CODE', example: 'SAVE10' },
          { type: 'URL', text: 'Open', url: 'https://example.com/{{1}}' },
        ],
      },
    ];
    const result = checkTemplateParameters(template, [
      { type: 'body', parameters: [{ type: 'text', parameter_name: 'other', text: 'x' }] },
      { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'p' }] },
    ]);
    expect(result).toEqual({
      ok: false,
      problems: [
        { field: 'header', message: "needs one document parameter (the header's document)" },
        { field: 'body', message: 'needs 1 parameter; missing {{name}}' },
        { field: 'button[1]', message: 'needs one coupon_code parameter' },
        { field: 'button[2]', message: 'needs one text parameter (the end of its URL)' },
        { field: '1', message: 'the template has no button quick_reply at index 0 that takes parameters' },
      ],
    });
    expect(checkTemplateParameters([body('Hi {{1}}')], [{ type: 'body', parameters: [text('a'), text('b')] }])).toEqual(
      {
        ok: false,
        problems: [{ field: 'body', message: 'takes 1 parameter, got 2' }],
      },
    );
    expect(checkTemplateParameters([body('Hi')], { type: 'body' })).toMatchObject({
      ok: false,
      problems: [{ field: '' }],
    });
    expect(checkTemplateParameters([body('Hi')], [{ parameters: [] }])).toMatchObject({
      ok: false,
      problems: [{ field: '0' }],
    });
  });
});
