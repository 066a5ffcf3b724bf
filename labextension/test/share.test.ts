import { describe, expect, it, vi } from 'vitest';

import { parseShareRef, shareLink, takeShareParam } from '../src/share';

describe('shareLink', () => {
  it('goes through user-redirect under JupyterHub', () => {
    expect(
      shareLink('s-1', {
        origin: 'https://hub.example.org',
        baseUrl: '/user/alice/',
        hubPrefix: '/hub/',
        hubUser: 'alice'
      })
    ).toBe('https://hub.example.org/hub/user-redirect/lab?oui-share=s-1');
  });

  it('adds the slashes a hub prefix may lack', () => {
    expect(
      shareLink('abc', {
        origin: 'https://hub.example.org/',
        baseUrl: '/user/alice/',
        hubPrefix: 'jhub',
        hubUser: 'alice'
      })
    ).toBe('https://hub.example.org/jhub/user-redirect/lab?oui-share=abc');
  });

  it('goes to the hub host when the hub has its own (subdomains)', () => {
    expect(
      shareLink('s-1', {
        origin: 'https://alice.users.example.org',
        baseUrl: '/user/alice/',
        hubPrefix: '/hub/',
        hubUser: 'alice',
        hubHost: 'https://hub.example.org'
      })
    ).toBe('https://hub.example.org/hub/user-redirect/lab?oui-share=s-1');
  });

  it("opens this server's lab without a hub", () => {
    expect(
      shareLink('abc', { origin: 'http://127.0.0.1:8888', baseUrl: '/' })
    ).toBe('http://127.0.0.1:8888/lab?oui-share=abc');
    expect(
      shareLink('abc', {
        origin: 'http://127.0.0.1:8888',
        baseUrl: '/proxy/lab-1'
      })
    ).toBe('http://127.0.0.1:8888/proxy/lab-1/lab?oui-share=abc');
  });

  it('needs both the hub prefix and the hub user to use the hub', () => {
    expect(
      shareLink('abc', {
        origin: 'http://h',
        baseUrl: '/user/a/',
        hubPrefix: '/hub/',
        hubUser: ''
      })
    ).toBe('http://h/user/a/lab?oui-share=abc');
  });

  it('escapes what is not part of an id', () => {
    expect(shareLink('a b&c', { origin: 'http://h', baseUrl: '/' })).toBe(
      'http://h/lab?oui-share=a%20b%26c'
    );
  });
});

describe('parseShareRef', () => {
  it('reads a link or a bare id', () => {
    expect(
      parseShareRef(
        'https://hub.example.org/hub/user-redirect/lab?oui-share=0f3a-9b'
      )
    ).toBe('0f3a-9b');
    expect(parseShareRef('  0f3a9b  ')).toBe('0f3a9b');
    expect(parseShareRef('/lab?reset&oui-share=x_1')).toBe('x_1');
  });

  it('refuses anything else', () => {
    expect(parseShareRef('')).toBeNull();
    expect(parseShareRef('https://example.org/lab')).toBeNull();
    expect(parseShareRef('https://h/lab?oui-share=<img src=x>')).toBeNull();
    expect(parseShareRef('a'.repeat(65))).toBeNull();
    expect(parseShareRef('../../etc/passwd')).toBeNull();
  });
});

describe('takeShareParam', () => {
  function address(href: string) {
    const replaceState = vi.fn();
    return {
      address: {
        location: { href },
        history: { state: { s: 1 }, replaceState }
      },
      replaceState
    };
  }

  it('reads the parameter and removes it from the address', () => {
    const { address: a, replaceState } = address(
      'http://h/user/bob/lab/tree/x.ipynb?oui-share=abc&token=t#frag'
    );
    expect(takeShareParam(a)).toBe('abc');
    expect(replaceState).toHaveBeenCalledWith(
      { s: 1 },
      '',
      'http://h/user/bob/lab/tree/x.ipynb?token=t#frag'
    );
  });

  it('leaves an address without it alone', () => {
    const { address: a, replaceState } = address('http://h/lab?token=t');
    expect(takeShareParam(a)).toBeNull();
    expect(replaceState).not.toHaveBeenCalled();
  });

  it('removes an empty or bad value too, and hands it over to be refused', () => {
    const { address: a, replaceState } = address('http://h/lab?oui-share=');
    expect(takeShareParam(a)).toBe('');
    expect(replaceState).toHaveBeenCalledWith({ s: 1 }, '', 'http://h/lab');
    expect(parseShareRef('')).toBeNull();
  });
});
