// The XML writer and the request parser (no XXE, caps, MalformedXML inputs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childText, childrenNamed, parseXml, XmlParseError } from '../src/xml/parser.js';
import { renderS3Xml, renderS3XmlText, renderXml } from '../src/xml/writer.js';

describe('XML writer', () => {
  it('escapes text, omits undefined children, namespaces success bodies only', () => {
    const ok = renderS3Xml('R', [['A', 'x<&>"\''], ['B', undefined], ['C', [['D', 1]]]]).toString();
    assert.equal(ok, '<?xml version="1.0" encoding="UTF-8"?><R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><A>x&lt;&amp;&gt;&quot;&apos;</A><C><D>1</D></C></R>');
    assert.equal(renderXml('Error', [['Code', 'X']]).toString(), '<?xml version="1.0" encoding="UTF-8"?><Error><Code>X</Code></Error>');
    assert.match(renderS3XmlText('LocationConstraint', '').toString(), /<LocationConstraint xmlns="[^"]+"\/>$/);
    assert.match(renderS3XmlText('LocationConstraint', 'eu-west-1').toString(), />eu-west-1<\/LocationConstraint>$/);
  });

  it('round-trips through the parser', () => {
    const doc = renderS3Xml('Delete', [['Object', [['Key', 'a&b <c>']]], ['Object', [['Key', 'ü/😀']]]]);
    const root = parseXml(doc);
    assert.deepEqual(childrenNamed(root, 'Object').map((o) => childText(o, 'Key')), ['a&b <c>', 'ü/😀']);
  });
});

describe('XML parser', () => {
  it('strips namespace prefixes and reads nested text', () => {
    const root = parseXml('<x:CreateBucketConfiguration xmlns:x="http://s3.amazonaws.com/doc/2006-03-01/"><x:LocationConstraint> eu-west-1 </x:LocationConstraint></x:CreateBucketConfiguration>');
    assert.equal(root.name, 'CreateBucketConfiguration');
    assert.equal(childText(root, 'LocationConstraint'), 'eu-west-1');
  });

  it('rejects DOCTYPE / entity declarations (XXE, billion laughs)', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>';
    assert.throws(() => parseXml(xxe), XmlParseError);
    const laughs = '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>';
    assert.throws(() => parseXml(laughs), XmlParseError);
  });

  it('rejects garbage, truncation, two roots, unknown entities and over-limit documents', () => {
    for (const bad of ['not xml', '<a><b></a>', '<a>', '<a/><b/>', '<a>&nope;</a>', '', '\u0000']) {
      assert.throws(() => parseXml(bad), XmlParseError, JSON.stringify(bad));
    }
    assert.throws(() => parseXml('<a>' + '<b/>'.repeat(11) + '</a>', { maxElements: 10, maxDepth: 4 }), XmlParseError);
    assert.throws(() => parseXml('<a><a><a><a><a/></a></a></a></a>', { maxElements: 100, maxDepth: 4 }), XmlParseError);
  });
});

describe('XML writer: carriage returns', () => {
  it('escapes CR so a parser reads it back as CR, not LF', () => {
    const doc = renderS3Xml('R', [['Key', 'a\rb\nc']]);
    assert.match(doc.toString(), /a&#13;b\nc/);
    assert.equal(childText(parseXml(doc), 'Key'), 'a\rb\nc');
  });
});
