// OHIF (npm @ohif/app 3.13.2) configuration for Orthanc's DICOMweb on the same origin (/dicom-web
// proxied to Orthanc, as `ainode viewer` does). Generated from src/viewer/ohif-gateway.ts.
window.config = {
  "routerBasename": "/",
  "showStudyList": true,
  "extensions": [],
  "modes": [],
  "investigationalUseDialog": {
    "option": "never"
  },
  "showWarningMessageForCrossOrigin": false,
  "showCPUFallbackMessage": false,
  "defaultDataSourceName": "ainode-pacs",
  "dataSources": [
    {
      "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
      "sourceName": "ainode-pacs",
      "configuration": {
        "friendlyName": "PACS (through ainode viewer gateway)",
        "name": "ainode-pacs",
        "wadoUriRoot": "/dicom-web",
        "qidoRoot": "/dicom-web",
        "wadoRoot": "/dicom-web",
        "qidoSupportsIncludeField": false,
        "imageRendering": "wadors",
        "thumbnailRendering": "wadors",
        "enableStudyLazyLoad": true,
        "supportsFuzzyMatching": false,
        "supportsWildcard": true,
        "omitQuotationForMultipartRequest": true,
        "bulkDataURI": {
          "enabled": true,
          "relativeResolution": "studies"
        }
      }
    }
  ]
};
